// The agent step's loop on the job page: one row per paid model turn (model, tokens, cost, why it ended) with the
// tool calls it asked for nested in it, from GET /jobs/{id}/agent/turns. Model text, tool arguments and results are
// untrusted: they are set as text (h() and renderMarkdown build nodes, never parse markup).
import { api } from './api.js';
import { h, replace, table } from './dom.js';
import { formatCost, formatDuration, formatJson, formatTokens } from './format.js';
import { latestRequest } from './latest.js';
import { renderMarkdown } from './markdown.js';

// A tool call's ledger status shown in the colour of the job status it is like.
const STATUS_LOOK = {
  finished: 'completed', failed: 'failed', rejected: 'cancelled', awaiting_approval: 'waiting',
  started: 'running', approved: 'running', not_started: 'pending',
};

/**
 * The definition's top-level agent steps: id -> display name. A parked agent step has no record yet; at the top level
 * its key is its id, which the wait names (a nested one's key is not known until its record comes).
 */
export function agentSteps(definition) {
  return new Map((definition?.steps ?? []).filter((step) => step?.type === 'agent' && typeof step.id === 'string')
    .map((step) => [step.id, step.display_name ?? step.id]));
}

/** A panel that (re)reads the step's turns when asked, at most every 300 ms; its element stays the same node. */
export function agentTurnsPanel(jobId, stepKey, stepName) {
  const element = h('section', { class: 'agent-turns', 'data-role': 'agent-turns', 'data-agent-step': stepKey, 'aria-label': `Agent turns of ${stepName}` },
    h('p', { class: 'muted small-text' }, 'Loading the agent\'s turns…'));
  const requests = latestRequest();
  let timer = null;

  async function load() {
    const request = requests.begin();
    try {
      const { data } = await api(`/jobs/${jobId}/agent/turns?step_key=${encodeURIComponent(stepKey)}`, { signal: request.signal });
      if (request.isLatest()) replace(element, turnsTable(data, stepName));
    } catch (error) {
      if (error.name !== 'AbortError' && request.isLatest()) {
        replace(element, h('p', { class: 'notice error' }, `The agent's turns could not be read: ${error.message}`));
      }
    }
  }

  return {
    element,
    refresh() {
      clearTimeout(timer);
      timer = setTimeout(load, 300);
    },
    dispose() {
      clearTimeout(timer);
      requests.cancel();
    },
  };
}

function turnsTable(data, stepName) {
  if (!data.turns.length) return h('p', { class: 'muted small-text', 'data-role': 'agent-no-turns' }, 'No model turn has been paid yet.');
  const caption = `Agent turns of ${stepName}: ${data.turn_count} turn${data.turn_count === 1 ? '' : 's'}, ` +
    `${formatTokens(data.input_tokens)} in / ${formatTokens(data.output_tokens)} out, ${data.cost_usd == null ? 'cost unknown (unpriced model)' : formatCost(data.cost_usd)}`;
  return table({
    caption,
    attrs: { 'data-role': 'agent-turns-table' },
    rows: data.turns,
    rowAttrs: (turn) => ({ 'data-turn': turn.turn, 'data-finish-reason': turn.finish_reason }),
    columns: [
      // The loop numbers turns from 0 (as its live events do); people count from 1.
      { label: 'Turn', num: true, cell: (t) => h('span', { 'data-role': 'turn-number' }, String(t.turn + 1)) },
      { label: 'Model', cell: (t) => h('code', { class: 'turn-model', 'data-role': 'turn-model' }, modelParts(t.model)) },
      { label: 'Tokens in / out', num: true, cell: (t) => h('span', { 'data-role': 'turn-tokens' }, `${formatTokens(t.input_tokens)} / ${formatTokens(t.output_tokens)}`) },
      { label: 'Cost', num: true, cell: (t) => h('span', { 'data-role': 'turn-cost' }, formatCost(t.cost_usd)) },
      { label: 'Ended with', cell: (t) => h('span', { 'data-role': 'turn-finish' }, t.finish_reason === 'tool_calls' ? 'tool calls' : 'answer') },
      { label: 'Answer and tool calls', cell: (t) => turnBody(t) },
    ],
  });
}

/** A model name that may wrap after its slashes only (provider/vendor/model), never inside a word. */
function modelParts(model) {
  return model.split('/').flatMap((part, i) => (i === 0 ? [part] : ['/', h('wbr'), part]));
}

function turnBody(turn) {
  return [
    turn.text ? h('div', { class: 'turn-text', 'data-role': 'turn-text' }, renderMarkdown(turn.text)) : null,
    turn.tool_calls.length
      ? h('ul', { class: 'agent-calls', 'aria-label': `Tool calls of turn ${turn.turn + 1}` }, turn.tool_calls.map(toolCall))
      : null,
    h('span', { class: 'muted small-text' }, `${formatDuration(turn.duration_ms)} for the model`),
  ];
}

function toolCall(call) {
  return h('li', { 'data-role': 'tool-call', 'data-call-id': call.call_id, 'data-tool': call.tool, 'data-call-status': call.status },
    h('div', { class: 'call-head' },
      h('code', { class: 'call-tool' }, call.tool),
      h('span', { class: `badge ${STATUS_LOOK[call.status] ?? 'pending'}`, 'data-role': 'call-status' }, call.status.replaceAll('_', ' ')),
      call.attempts > 1 ? h('span', { class: 'muted small-text' }, `${call.attempts} attempts`) : null,
      approval(call.approval)),
    h('details', { class: 'call-detail' }, h('summary', null, `Arguments of ${call.tool}`),
      h('pre', { class: 'json', 'data-role': 'call-arguments', tabindex: '0' }, formatJson(call.arguments))),
    call.result_summary != null
      ? h('p', { class: 'call-result', 'data-role': 'call-result' }, h('span', { class: 'muted' }, 'Result: '), call.result_summary,
        call.result_chars > call.result_summary.length ? h('span', { class: 'muted small-text' }, ` (${formatTokens(call.result_chars)} characters)`) : null)
      : null);
}

function approval(decision) {
  if (!decision) return null;
  const words = {
    approved: decision.arguments_edited ? 'approved with edited arguments' : 'approved',
    rejected: 'rejected', pending: 'waiting for approval', expired: 'no decision in time',
  }[decision.decision] ?? decision.decision;
  return h('span', { class: 'call-approval', 'data-role': 'call-approval', 'data-decision': decision.decision },
    words, decision.decided_by ? ` by ${decision.decided_by}` : null, decision.comment ? [': “', decision.comment, '”'] : null);
}
