// Job detail: live progress over Server-Sent Events (step timeline, streamed LLM text), per-step detail (input,
// rendered prompt, output, tokens, cost, model, attempts, timings), the history of a retried job's attempts, result,
// actionable error, webhook deliveries, and the actions cancel / retry / replay webhook / copy curl, and on each
// top-level step of a finished job retry from here / fork from here (with a model override). The lineage card
// shows the job's pinned workflow version (and how it differs from the current one), its fork source and forks, what
// its cost reused, and compares it with a fork or its source step by step.
import { api, ApiError, eventsUrl, offers } from '../api.js';
import { h, replace, toast, table } from '../dom.js';
import { formatCost, formatDate, formatDuration, formatJson, formatTokens, retryCanHelp, shortId, TERMINAL } from '../format.js';
import { statusBadge } from './jobs.js';
import { latestRequest } from '../latest.js';
import { renderOutput } from '../markdown.js';
import { buildTree, definitionOrder } from '../step-tree.js';
import { dashboardConfig, traceUrl } from '../config.js';
import { attemptTraceList } from '../attempt-traces.js';
import { pauseHolding, scheduledActions, scheduledText } from '../scheduled-job.js';
import { agentSteps, agentTurnsPanel } from '../agent-turns.js';

export async function renderJobDetail(main, jobId) {
  let job = null;
  let source = null;
  let lastEventId = null;
  let pollTimer = null;
  let disposed = false;
  const steps = new Map(); // step_key -> step view state
  let order = new Map(); // step id -> position in the workflow definition (empty until it has loaded)
  let aspireUrl = null; // the Aspire dashboard, where a job's trace and logs are
  const streams = new Map(); // step_key -> <pre> of streamed text
  const agentPanels = new Map(); // step_key -> an agent step's turns panel (agent-turns.js), kept across redraws
  let definedAgents = new Map(); // the definition's agent steps: id -> display name

  const heading = h('h1', { tabindex: '-1' }, 'Job');
  const header = h('div');
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Job actions' });
  const progressBar = h('progress', { max: 100, value: 0, 'aria-labelledby': 'progress-text' });
  const progressText = h('p', { id: 'progress-text', 'aria-live': 'polite', 'data-role': 'progress-text' });
  const liveState = h('p', { class: 'muted small-text', 'data-role': 'live-state' });
  const timeline = h('ol', { class: 'timeline', 'data-role': 'timeline', 'aria-label': 'Steps' });
  const resultBox = h('div');
  const errorBox = h('div');
  const inputBox = h('div');
  const webhookBox = h('div');
  const attemptsBox = h('div');
  const lineageBox = h('div');
  const compareBox = h('div');
  let versionDetail = null; // the pinned version against the current one, loaded once
  const curlBox = h('div');
  const message = h('div');

  replace(main,
    h('p', null, h('a', { href: '#/jobs' }, '← All jobs')),
    heading, h('div', { class: 'card' }, actions, message, curlBox),
    h('section', { class: 'card', 'aria-labelledby': 'progress-title' },
      h('h2', { id: 'progress-title' }, 'Progress'), progressBar, progressText, liveState,
      h('h3', null, 'Steps'), timeline),
    errorBox, resultBox, lineageBox, compareBox, attemptsBox, header, inputBox, webhookBox);

  const statusRequests = latestRequest();

  let holdingPause = null;
  async function loadStatus() {
    // Polls, live events and button presses all reload; an older answer must not overwrite a newer one.
    const request = statusRequests.begin();
    const { data } = await api(`/status/${jobId}`, { signal: request.signal });
    if (!request.isLatest()) return;
    job = data;
    holdingPause = await pauseHolding(job);
    // Rows of every attempt: a later attempt's row of a step replaces an earlier one in the timeline (steps it did
    // not re-run keep their row from the attempt that ran them); the attempt history shows each attempt's own rows.
    const rows = [...(job.steps ?? [])].sort((a, b) => (a.job_attempt ?? 1) - (b.job_attempt ?? 1));
    // A step's first start over every attempt orders the timeline: a retried step keeps its place.
    const firstStart = new Map();
    for (const step of rows) {
      const key = step.step_key ?? step.step_id;
      if (!firstStart.has(key) || Date.parse(step.started_at) < Date.parse(firstStart.get(key))) firstStart.set(key, step.started_at);
    }
    for (const step of rows) {
      const key = step.step_key ?? step.step_id;
      // The live stream already follows a newer attempt of this step: an older row does not describe it.
      if ((steps.get(key)?.job_attempt ?? 0) > (step.job_attempt ?? 1)) continue;
      mergeStep(key, {
        step_id: step.step_id, display_name: step.display_name, status: step.status, duration_ms: step.duration_ms,
        attempts: step.attempts, input_tokens: step.input_tokens, output_tokens: step.output_tokens, cost_usd: step.cost_usd,
        model: step.model, type: step.type, error: step.error, output: step.output, started_at: step.started_at, finished_at: step.finished_at,
        provider: step.provider, job_attempt: step.job_attempt, input: step.input, rendered_prompt: step.rendered_prompt,
        parent_step_id: step.parent_step_id, branch: step.branch, first_started_at: firstStart.get(key),
      });
    }
    showParkedAgent();
    if (job.status === 'processing' && job.progress?.current_step_id && ![...steps.values()].some((s) => s.step_id === job.progress.current_step_id)) {
      mergeStep(job.progress.current_step_id, { step_id: job.progress.current_step_id, display_name: job.progress.current_step_name, status: 'running' });
    }
    render();
    // An agent step's turns are read beside the status: each status read (a step's end, a poll, the run's end) re-reads them.
    for (const panel of agentPanels.values()) panel.refresh();
    follow();
  }

  // The newest status read decides what comes next, whichever caller made it: a read it superseded (aborted) never
  // gets to. A finished job stops the stream and the polling; an unfinished one is followed over the stream, or polled.
  function follow() {
    if (!TERMINAL.has(job.status)) {
      connect();
      return;
    }
    disconnect();
    clearTimeout(pollTimer);
    liveState.textContent = `Finished: ${job.status}.`;
    // Its deliveries too (a replay just added one); the first read comes before the page knows whether it may see them.
    if (webhooksAvailable) loadWebhooks();
  }

  /**
   * A job parked by its agent step (a tool waiting for approval) has no record of that step yet: the step is shown as
   * waiting, so its turns so far can be read. Its key is its id (the wait names the step, not its key).
   */
  function showParkedAgent() {
    const id = job?.status === 'waiting' ? job.waiting_for?.step_id : null;
    if (!id || !definedAgents.has(id) || [...steps.values()].some((s) => s.step_id === id)) return;
    mergeStep(id, { step_id: id, display_name: definedAgents.get(id), status: 'waiting', type: 'agent' });
  }

  function mergeStep(key, fields) {
    const current = steps.get(key) ?? { key, first_started_at: fields.started_at ?? new Date().toISOString() };
    for (const [name, value] of Object.entries(fields)) if (value !== undefined) current[name] = value;
    steps.set(key, current);
  }

  function render() {
    if (!job || disposed) return;
    document.title = `${job.workflow_name} · job ${shortId(jobId)} · LlmWorkflow`;
    replace(heading, job.workflow_name, ' ', statusBadge(job.status));
    main.dataset.jobStatus = job.status;
    replace(header, h('section', { class: 'card', 'aria-labelledby': 'details-title' }, h('h2', { id: 'details-title' }, 'Details'), h('dl', { class: 'facts wide' },
      fact('Job id', h('code', null, job.job_id)),
      fact('User', job.user_id ?? '—'),
      fact('Username', job.username ?? '—'),
      fact('Action', job.action ?? '—'),
      job.schedule_id ? fact('Schedule', h('a', { href: `#/jobs?schedule_id=${job.schedule_id}`, 'data-role': 'schedule-id', title: 'Started by a tick of this schedule: its jobs' }, shortId(job.schedule_id))) : null,
      fact('Tenant', h('span', { 'data-role': 'tenant' }, job.tenant_id ?? '—')),
      fact('Worker', h('code', { 'data-role': 'worker-id' }, job.worker_id ?? '—')),
      fact('Trace', traceFact()),
      (job.attempt_traces?.length ?? 0) > 1 ? fact('Attempt traces', attemptTraceList(job, aspireUrl)) : null,
      fact('Priority', String(job.priority)),
      fact('Created', formatDate(job.created_at)),
      fact('Started', formatDate(job.started_at)),
      fact('Completed', formatDate(job.completed_at)),
      fact('Duration', formatDuration(job.duration_ms)),
      fact('Attempt', h('span', { 'data-role': 'attempt' }, job.attempt ? String(job.attempt) : '—')))));
    renderActions();
    renderProgress();
    renderTimeline();
    renderResult();
    renderError();
    renderAttempts();
    renderLineage();
    renderInput();
  }

  /** Version, fork links and reused cost; the version's differences to the current one are loaded once. */
  function renderLineage() {
    const hash = job.definition_hash;
    const forks = job.forks ?? [];
    const breakdown = job.cost_breakdown;
    const reused = breakdown?.reused_steps ?? [];
    if (!hash && !job.forked_from && !forks.length && !reused.length) {
      replace(lineageBox);
      return;
    }
    if (hash && versionDetail === null) {
      versionDetail = false;
      api(`/workflows/${encodeURIComponent(job.workflow_name)}/versions/${hash}`)
        .then(({ data }) => { versionDetail = data; renderLineage(); }, () => {});
    }
    const differences = versionDetail?.differences_to_current ?? [];
    replace(lineageBox, h('section', { class: 'card', 'aria-labelledby': 'lineage-title', 'data-role': 'lineage' },
      h('h2', { id: 'lineage-title' }, 'Version and lineage'),
      h('dl', { class: 'facts wide' },
        fact('Workflow version', hash
          ? [h('code', { 'data-role': 'definition-hash', title: hash }, hash.slice(0, 12)), ' ',
            versionDetail ? h('span', { class: 'muted', 'data-role': 'version-state' }, versionDetail.current ? '(current)' : '(differs from the current version)') : null]
          : 'not pinned (submitted before pinning; runs the current definition)'),
        job.forked_from ? fact('Forked from', [h('a', { href: `#/jobs/${job.forked_from.job_id}`, 'data-role': 'forked-from' }, shortId(job.forked_from.job_id)),
          ` at step “${job.forked_from.step}” `,
          h('button', { type: 'button', class: 'button secondary', 'data-action': 'compare-source', onclick: () => compareWith(job.forked_from.job_id) }, 'Compare with source')]) : null,
        breakdown && reused.length ? fact('Cost', h('span', { 'data-role': 'cost-breakdown' },
          `${formatCost(breakdown.paid_usd)} paid by this job; ${formatCost(breakdown.reused_usd)} reused (${reused.length} step${reused.length === 1 ? '' : 's'}, not paid again)`)) : null),
      differences.length
        ? table({
          caption: 'Differences from this version to the current one',
          attrs: { 'data-role': 'version-diff' },
          columns: [
            { label: 'What', cell: (d) => d.kind },
            { label: 'Which', cell: (d) => h('code', null, d.id) },
            { label: 'Change', cell: (d) => d.change },
            { label: 'Fields', cell: (d) => (d.fields?.length ? d.fields.join(', ') : '—') },
          ],
          rows: differences,
        })
        : null,
      forks.length
        ? table({
          caption: `Forks (${forks.length})`,
          attrs: { 'data-role': 'forks' },
          columns: [
            { label: 'Fork', cell: (f) => h('a', { href: `#/jobs/${f.job_id}` }, shortId(f.job_id)) },
            { label: 'From step', cell: (f) => f.from_step },
            { label: 'Status', cell: (f) => statusBadge(f.status) },
            { label: 'Created', cell: (f) => formatDate(f.created_at) },
            { label: '', cell: (f) => h('button', { type: 'button', class: 'button secondary', 'data-action': 'compare-fork', onclick: () => compareWith(f.job_id) }, 'Compare') },
          ],
          rows: forks,
        })
        : null));
  }

  /** This job and another side by side, per top-level step (GET /jobs/{id}/compare/{other}). */
  async function compareWith(otherId) {
    try {
      const { data } = await api(`/jobs/${jobId}/compare/${otherId}`);
      const side = (s) => (s ? [statusBadge(s.status), ' ', s.model ?? '', s.reused ? ' (reused)' : ''] : '—');
      replace(compareBox, h('section', { class: 'card', 'aria-labelledby': 'compare-title', 'data-role': 'compare' },
        h('h2', { id: 'compare-title' }, 'Compare with ', h('a', { href: `#/jobs/${otherId}` }, shortId(otherId))),
        table({
          caption: `This job: ${formatCost(data.job.cost_usd)}, ${formatTokens(data.job.total_tokens)} tokens; the other: ${formatCost(data.other.cost_usd)}, ${formatTokens(data.other.total_tokens)} tokens`,
          attrs: { 'data-role': 'compare-steps' },
          columns: [
            { label: 'Step', cell: (c) => c.display_name ?? c.step_id },
            { label: 'This job', cell: (c) => side(c.job) },
            { label: 'Other', cell: (c) => side(c.other) },
            { label: 'Cost (this / other)', num: true, cell: (c) => `${formatCost(c.job?.cost_usd)} / ${formatCost(c.other?.cost_usd)}` },
            { label: 'Tokens (this / other)', num: true, cell: (c) => `${formatTokens((c.job?.input_tokens ?? 0) + (c.job?.output_tokens ?? 0))} / ${formatTokens((c.other?.input_tokens ?? 0) + (c.other?.output_tokens ?? 0))}` },
            { label: 'Duration (this / other)', num: true, cell: (c) => `${formatDuration(c.job?.duration_ms)} / ${formatDuration(c.other?.duration_ms)}` },
            { label: 'Output', cell: (c) => (c.output_equal ? 'same' : `differs: ${c.output_differences.join(', ')}`) },
          ],
          rows: data.steps,
          rowAttrs: (c) => ({ 'data-step-id': c.step_id }),
        })));
      compareBox.querySelector('h2')?.scrollIntoView?.({ block: 'nearest' });
    } catch (error) {
      if (error instanceof ApiError) toast(error.message);
      else throw error;
    }
  }

  /** The trace id, linked to its page in the Aspire dashboard when the API names one (AspireDashboard:Url). */
  function traceFact() {
    if (!job.trace_id) return h('span', { 'data-role': 'trace-id' }, '—');
    const href = traceUrl(aspireUrl, job.trace_id);
    return href
      ? h('a', { href, target: '_blank', rel: 'noopener', 'data-role': 'trace-id', class: 'mono wrap-anywhere', title: 'Open the trace and its logs in the Aspire dashboard' }, job.trace_id)
      : h('code', { 'data-role': 'trace-id', class: 'wrap-anywhere' }, job.trace_id);
  }

  function fact(label, value) {
    return [h('dt', null, label), h('dd', null, value)];
  }

  function renderProgress() {
    main.dataset.jobStatus = job.status;
    heading.querySelector('.badge')?.replaceWith(statusBadge(job.status));
    const percent = job.status === 'completed' ? 100 : job.progress?.percent ?? 0;
    progressBar.value = percent;
    const name = job.progress?.current_step_name;
    progressText.textContent = job.status === 'processing'
      ? `${name ? `Running “${name}”` : 'Running'} — ${percent}%`
      : job.status === 'completed' ? 'Completed — 100%'
        : job.status === 'failed' ? `Failed${name ? ` at “${name}”` : ''}`
          : job.status === 'cancelled' ? 'Cancelled'
            : job.status === 'scheduled' ? scheduledText(job, holdingPause)
              : job.status === 'waiting' && job.waiting_for
                ? (job.waiting_for.kind === 'slot'
                  ? 'Waiting for a slot of its tenant (it runs its MaxConcurrentJobs already) — no worker slot held'
                  : `Waiting at “${job.waiting_for.step_id}” (${job.waiting_for.kind}${job.waiting_for.reason ? `: ${[job.waiting_for.provider, job.waiting_for.reason].filter(Boolean).join(' ')}` : ''}) until ${formatDate(job.waiting_for.until)} — no worker slot held`)
                : `Waiting for a worker (${job.status})`;
  }

  function renderTimeline() {
    if (steps.size === 0) {
      replace(timeline, h('li', { class: 'muted' }, TERMINAL.has(job?.status) ? 'No steps were recorded.' : 'No step has started yet.'));
      return;
    }
    // A refresh (a poll, a replayed terminal event) redraws the timeline: the step details a reader opened stay open.
    const opened = new Set([...timeline.querySelectorAll('li[data-step-key] > details[open]')].map((d) => d.parentElement.dataset.stepKey));
    const span = timeSpan([...steps.values()]);
    replace(timeline, buildTree(steps, order).map((node) => stepItem(node, span, opened)));
  }

  /** One step of the tree with its children: for_each iterations under `key[index]`, parallel branches by name. */
  function stepItem(node, span, opened) {
    const shown = node.step;
    // A step still marked running when the job ended was interrupted by the cancel (or the failure), not running.
    const step = TERMINAL.has(job?.status) && (shown.status === 'running' || !shown.status)
      ? { ...shown, status: job.status === 'cancelled' ? 'cancelled' : 'interrupted' }
      : shown;
    const meta = [
      step.duration_ms != null ? `Duration ${formatDuration(step.duration_ms)}` : null,
      step.attempts != null ? `Attempts ${step.attempts}` : null,
      step.model ? `Model ${step.model}` : null,
      step.input_tokens || step.output_tokens ? `Tokens ${formatTokens(step.input_tokens)} in / ${formatTokens(step.output_tokens)} out` : null,
      step.cost_usd != null ? `Cost ${formatCost(step.cost_usd)}` : null,
      step.job_attempt && job.attempt && step.job_attempt < job.attempt ? `From attempt ${step.job_attempt}` : null,
    ].filter(Boolean);
    let stream = streams.get(step.key);
    if (!stream && step.text) {
      stream = h('pre', { class: 'stream', 'aria-label': `Streamed text of ${step.display_name}` });
      stream.textContent = step.text;
      streams.set(step.key, stream);
    }
    return h('li', { 'data-step-id': step.step_id, 'data-step-key': step.key, 'data-status': step.status },
      h('div', { class: 'step-head' }, h('span', { class: 'step-title' }, step.display_name ?? step.step_id),
        statusBadge(step.status ?? 'pending'), h('code', { class: 'muted small-text step-key' }, step.key)),
      meta.length ? h('ul', { class: 'step-meta' }, meta.map((m) => h('li', null, m))) : null,
      timingBar(step, span),
      step.error ? h('p', { class: 'notice error' }, step.error.message ?? formatJson(step.error)) : null,
      stream ?? null,
      agentPanel(step),
      stepActions(step),
      stepDetail(step, opened.has(step.key)),
      node.groups.length
        ? h('ol', { class: 'timeline-groups', 'aria-label': `Inside ${step.display_name ?? step.step_id}` }, node.groups.map((group) => {
          const label = group.iteration != null ? `${node.key}[${group.iteration}]` : group.branch != null ? `Branch ${group.branch}` : null;
          return h('li', { class: 'step-group', 'data-group': group.key, 'data-iteration': group.iteration ?? null, 'data-branch': group.iteration == null ? group.branch : null },
            label ? h('div', { class: 'group-label' }, group.iteration != null ? [h('code', null, label), ` · item ${group.iteration + 1}`] : label) : null,
            h('ol', { class: 'timeline nested' }, group.children.map((child) => stepItem(child, span, opened))));
        }))
        : null);
  }

  /** An agent step's loop, turn by turn with its tool calls; the same node across redraws, so it does not flicker. */
  function agentPanel(step) {
    if (step.type !== 'agent') return null;
    let panel = agentPanels.get(step.key);
    if (!panel) {
      panel = agentTurnsPanel(jobId, step.key, step.display_name ?? step.step_id);
      agentPanels.set(step.key, panel);
      panel.refresh();
    }
    return panel.element;
  }

  /**
   * Retry from here (POST /jobs/{id}/retry {from_step}: the steps before it keep their outputs) and fork from here
   * (POST /jobs/{id}/fork: a new job reusing them at $0, optionally with another model for an LLM step from here on)
   * for each top-level step of a finished job — the states a rerun starts from.
   */
  function stepActions(step) {
    if (!TERMINAL.has(job?.status) || step.parent_step_id || step.placeholder) return null;
    const rank = (id) => order.get(id) ?? Number.MAX_SAFE_INTEGER;
    const llmSteps = [...steps.values()].filter((s) => s.type === 'llm' && !s.parent_step_id && rank(s.step_id) >= rank(step.step_id));
    const target = h('select', { name: 'step', 'aria-label': `LLM step whose model the fork from ${step.step_id} changes` },
      llmSteps.map((s) => h('option', { value: s.step_id }, `${s.display_name ?? s.step_id}${s.model ? ` (${s.model})` : ''}`)));
    const model = h('input', { name: 'model', type: 'text', placeholder: 'provider/model', 'aria-label': `Model for the fork from ${step.step_id}` });
    const fork = async (event) => {
      event.preventDefault();
      const button = event.currentTarget.querySelector('button');
      button.disabled = true;
      const overrides = llmSteps.length && model.value.trim() ? { [`steps.${target.value}.model`]: model.value.trim() } : {};
      try {
        const { data } = await api(`/jobs/${jobId}/fork`, { method: 'POST', body: { from_step: step.step_id, overrides } });
        toast(`Forked as job ${shortId(data.job_id)}.`);
        location.hash = `#/jobs/${data.job_id}`;
      } catch (error) {
        button.disabled = false;
        replace(message, h('p', { class: 'notice error', role: 'alert' }, formatProblem(error)));
      }
    };
    // Where the page says retry is not offered (a budget failure), no step offers it either; a fork stays possible.
    const retryOffered = job.status === 'completed' || retryCanHelp(job);
    return h('div', { class: 'actions step-actions', 'data-role': 'step-actions' },
      retryOffered ? h('button', { type: 'button', class: 'button secondary', 'data-action': 'retry-from',
        onclick: (e) => run(e.currentTarget, () => api(`/jobs/${jobId}/retry`, { method: 'POST', body: { from_step: step.step_id } })) }, 'Retry from here') : null,
      h('details', { class: 'fork-from', 'data-role': 'fork-from' }, h('summary', null, 'Fork from here'),
        h('form', { 'data-role': 'fork-form', onsubmit: fork },
          llmSteps.length ? [h('label', null, 'Step ', target), h('label', null, 'Model ', model)] : h('p', { class: 'muted small-text' }, 'No LLM step from here on: the fork reruns the same definition.'),
          h('button', { type: 'submit', class: 'button', 'data-action': 'fork' }, 'Fork'))));
  }

  /** A problem answer's message, with the fields it names (a fork's invalid override). */
  function formatProblem(error) {
    const fields = Object.entries(error.body?.errors ?? {}).map(([field, problems]) => `${field}: ${[].concat(problems).join(' ')}`);
    return [error.body?.message ?? error.body?.title ?? error.message, ...fields].join(' ');
  }

  /** What a step was given and produced, and when it ran, folded away until asked for. */
  function stepDetail(step, open) {
    if (step.output === undefined && !step.started_at) return null;
    return h('details', { class: 'step-detail', 'data-role': 'step-detail', open },
      h('summary', null, `Details of ${step.display_name ?? step.step_id}`),
      h('dl', { class: 'facts' },
        fact('Type', step.type ?? '—'),
        fact('Started', formatDate(step.started_at)),
        fact('Finished', formatDate(step.finished_at)),
        fact('Duration', formatDuration(step.duration_ms)),
        fact('Attempts', step.attempts != null ? String(step.attempts) : '—'),
        step.job_attempt ? fact('Job attempt', String(step.job_attempt)) : null,
        step.model ? fact('Model', step.model) : null,
        step.input_tokens || step.output_tokens || step.type === 'llm' ? fact('Tokens', `${formatTokens(step.input_tokens)} in / ${formatTokens(step.output_tokens)} out`) : null,
        step.cost_usd != null ? fact('Cost', formatCost(step.cost_usd)) : null),
      step.input != null
        ? [h('h4', null, 'Input'), h('pre', { class: 'json', 'data-role': 'step-input', tabindex: '0' }, formatJson(step.input))]
        : null,
      step.rendered_prompt
        ? [h('h4', null, 'Rendered prompt'), h('pre', { class: 'prompt', 'data-role': 'step-prompt', tabindex: '0' }, step.rendered_prompt)]
        : null,
      step.output === undefined || step.output === null
        ? h('p', { class: 'muted' }, 'No output.')
        : [h('h4', null, 'Output'), renderOutput(step.output, { 'data-role': 'step-output' })]);
  }

  /** The first start and last finish of the shown steps: the scale of their timing bars. */
  function timeSpan(shown) {
    const starts = shown.map((st) => Date.parse(st.started_at)).filter(Number.isFinite);
    if (starts.length === 0) return null;
    const ends = shown.map((st) => Date.parse(st.finished_at ?? '') || (st.started_at ? Date.now() : NaN)).filter(Number.isFinite);
    const from = Math.min(...starts);
    return { from, length: Math.max(1, Math.max(from + 1, ...ends) - from) };
  }

  /** Where in the job's time a step ran, as a bar (a timeline of the steps, read together). */
  function timingBar(step, span) {
    const start = Date.parse(step.started_at);
    if (!span || !Number.isFinite(start)) return null;
    const end = Date.parse(step.finished_at ?? '') || Date.now();
    const left = ((start - span.from) / span.length) * 100;
    const width = Math.max(0.5, ((end - start) / span.length) * 100);
    const label = `Started ${formatDuration(start - span.from)} after the first step, ran ${formatDuration(end - start)}`;
    return h('div', { class: 'step-bar', 'data-role': 'step-bar', role: 'img', 'aria-label': label, title: label },
      h('span', { style: `left:${Math.min(left, 99.5).toFixed(2)}%;width:${Math.min(width, 100 - Math.min(left, 99.5)).toFixed(2)}%` }));
  }

  /**
   * Each attempt of a retried (or resumed) job: how it ended, its error and timings as they were, and the steps it
   * ran. Shown once there is more than one attempt.
   */
  function renderAttempts() {
    const previous = job.previous_attempts ?? [];
    // A fork's copies of its source's steps (job_attempt 0) belong to no attempt of this job.
    const rows = (job.steps ?? []).filter((r) => !r.reused_from_job_id);
    // After a retry and before a worker claims the job, the attempt to come is one past the last one that ended.
    const upcoming = Math.max(job.attempt || 1, ...previous.map((a) => a.attempt + 1));
    const numbers = [...new Set([...previous.map((a) => a.attempt), ...rows.map((r) => r.job_attempt ?? 1), upcoming])].sort((a, b) => a - b);
    if (numbers.length < 2) {
      replace(attemptsBox);
      return;
    }
    const current = Math.max(...numbers);
    replace(attemptsBox, h('section', { class: 'card', 'aria-labelledby': 'attempts-title', 'data-role': 'attempts' },
      h('h2', { id: 'attempts-title' }, `Attempts (${numbers.length})`),
      h('p', { class: 'muted small-text' }, 'A retry runs only what had not finished: each attempt keeps the steps it ran, its outcome and its timings.'),
      numbers.slice().reverse().map((n) => {
        const ended = previous.find((a) => a.attempt === n);
        const outcome = ended ?? (n === current
          ? { status: job.status, error_message: job.error_message, error: job.error, started_at: job.started_at, completed_at: job.completed_at, duration_ms: job.duration_ms }
          : { status: 'interrupted' });
        const own = rows.filter((r) => (r.job_attempt ?? 1) === n);
        return h('section', { class: 'attempt', 'data-attempt': n, 'data-status': outcome.status, 'aria-labelledby': `attempt-${n}-title` },
          h('h3', { id: `attempt-${n}-title` }, `Attempt ${n}${n === current ? ' (current)' : ''} `, statusBadge(outcome.status)),
          h('dl', { class: 'facts wide' },
            fact('Started', formatDate(outcome.started_at)),
            fact(outcome.status === 'cancelled' ? 'Cancelled' : 'Ended', formatDate(outcome.completed_at)),
            fact('Duration', formatDuration(outcome.duration_ms)),
            ended?.retried_at ? fact('Retried', formatDate(ended.retried_at)) : null,
            outcome.status === 'interrupted' ? fact('Note', 'Its worker stopped; another worker resumed the job.') : null),
          outcome.error_message || outcome.error?.message
            ? h('p', { class: outcome.status === 'cancelled' ? 'notice' : 'notice error', 'data-role': 'attempt-error' },
              // A cancel is no failure: no category (attempts stored before cancels lost theirs say USER_ERROR).
              [outcome.status === 'cancelled' ? null : outcome.error?.category, outcome.error?.message ?? outcome.error_message].filter(Boolean).join(': '))
            : null,
          own.length
            ? table({
              caption: `Steps run in attempt ${n}`,
              attrs: { 'data-role': 'attempt-steps' },
              columns: [
                { label: 'Step', cell: (r) => h('span', { 'data-step-key': r.step_key }, r.display_name ?? r.step_id) },
                { label: 'Status', cell: (r) => statusBadge(r.status) },
                { label: 'Started', cell: (r) => formatDate(r.started_at) },
                { label: 'Duration', num: true, cell: (r) => formatDuration(r.duration_ms) },
                { label: 'Tries', num: true, cell: (r) => String(r.attempts ?? '—') },
                { label: 'Error', cell: (r) => r.error?.message ?? '—' },
              ],
              rows: own,
            })
            : h('p', { class: 'muted' }, n === current && !TERMINAL.has(job.status) ? 'No step of this attempt has finished yet.' : 'No step ran in this attempt.'));
      })));
  }

  function renderActions() {
    const buttons = [];
    if (!TERMINAL.has(job.status)) {
      buttons.push(h('button', { type: 'button', class: 'button danger', 'data-action': 'cancel', onclick: (e) => run(e.currentTarget, () => api(`/workflow/${jobId}`, { method: 'DELETE' })) }, 'Cancel job'));
    }
    if (job.status === 'scheduled') buttons.push(...scheduledActions(job, run));
    if (retryCanHelp(job)) {
      buttons.push(h('button', { type: 'button', class: 'button', 'data-action': 'retry', onclick: (e) => run(e.currentTarget, () => api(`/jobs/${jobId}/retry`, { method: 'POST' })) }, 'Retry job'));
    }
    if (hasWebhookEvents && TERMINAL.has(job.status)) {
      buttons.push(h('button', { type: 'button', class: 'button secondary', 'data-action': 'replay-webhook', onclick: (e) => run(e.currentTarget, () => api(`/admin/webhooks/${jobId}/replay`, { method: 'POST' })) }, 'Replay webhook'));
    }
    buttons.push(h('button', { type: 'button', class: 'button secondary', 'data-action': 'copy-curl', onclick: copyCurl }, 'Copy curl'));
    replace(actions, buttons);
  }

  async function run(button, call) {
    button.disabled = true;
    try {
      const { data } = await call();
      toast(data?.message ?? 'Done.');
      replace(message);
    } catch (error) {
      replace(message, h('p', { class: 'notice error', role: 'alert' }, error.body?.message ?? error.message));
    }
    await refresh();
  }

  function copyCurl() {
    const command = `curl -H "X-API-Key: $LLMWF_API_KEY" ${location.origin}/api/v1/status/${jobId}`;
    const text = h('pre', { class: 'json', 'data-role': 'curl' }, command);
    replace(curlBox, h('p', { class: 'small-text muted' }, 'Set LLMWF_API_KEY in your shell; the key is never copied.'), text);
    navigator.clipboard?.writeText(command).then(() => toast('curl command copied.'), () => toast('Copy it from the box below.'));
  }

  function renderResult() {
    if (!job.result) {
      replace(resultBox);
      return;
    }
    const cost = job.result.cost_data;
    replace(resultBox, h('section', { class: 'card', 'aria-labelledby': 'result-title' },
      h('h2', { id: 'result-title' }, 'Output'),
      renderOutput(job.result.output ?? job.result, { 'data-role': 'output' }),
      cost ? costCard(cost) : null));
  }

  /** The job's totals and one row per model it called (cost_data.models), in words rather than key names. */
  function costCard(cost) {
    const models = Array.isArray(cost.models) ? cost.models : cost.model ? [cost] : [];
    return [h('h3', null, 'Cost'), h('dl', { class: 'facts', 'data-role': 'cost' },
      fact('Total cost', formatCost(cost.cost_usd)),
      fact('Input tokens', formatTokens(cost.input_tokens)),
      fact('Output tokens', formatTokens(cost.output_tokens)),
      fact('Total tokens', formatTokens(cost.total_tokens)),
      cost.unpriced ? fact('Note', 'Some calls used a model without a price: the cost is a lower bound.') : null),
    models.length
      ? table({
        caption: `${models.length} model${models.length === 1 ? '' : 's'} used`,
        attrs: { 'data-role': 'cost-models' },
        columns: [
          { label: 'Model', cell: (m) => h('span', { class: 'wrap-anywhere' }, m.model ?? '—') },
          { label: 'Calls', num: true, cell: (m) => formatTokens(m.calls) },
          { label: 'Input tokens', num: true, cell: (m) => formatTokens(m.input_tokens) },
          { label: 'Output tokens', num: true, cell: (m) => formatTokens(m.output_tokens) },
          { label: 'Cost', num: true, cell: (m) => (m.unpriced ? 'no price' : formatCost(m.cost_usd)) },
        ],
        rows: models,
        rowAttrs: (m) => ({ 'data-model': m.model }),
      })
      : null];
  }

  function renderError() {
    const error = job.error;
    if (job.status === 'cancelled') {
      // A cancel is what someone asked for, not a failure: no error styling, no error taxonomy.
      replace(errorBox, h('section', { class: 'card', 'aria-labelledby': 'cancelled-title', 'data-role': 'cancelled' },
        h('h2', { id: 'cancelled-title' }, 'Cancelled'),
        h('p', { class: 'notice' }, `The job was cancelled${job.completed_at ? ` at ${formatDate(job.completed_at)}` : ''}. `
          + 'Steps that had finished keep their results; Retry runs the rest.')));
      return;
    }
    if (!error && !job.error_message) {
      replace(errorBox);
      return;
    }
    const suggestions = error?.suggestions ?? [];
    replace(errorBox, h('section', { class: 'card', role: 'region', 'aria-labelledby': 'error-title', 'data-role': 'error' },
      h('h2', { id: 'error-title' }, 'Error'),
      h('p', { class: 'notice error' }, error?.message ?? job.error_message),
      error?.advice ? h('p', { class: 'notice warn', 'data-role': 'advice' }, h('strong', null, 'What to do: '), error.advice) : null,
      h('dl', { class: 'facts' },
        fact('Category', error?.category ?? '—'),
        fact('Type', error?.type ?? '—'),
        fact('Retryable', error?.retryable == null ? '—' : error.retryable ? 'Yes — retrying may succeed' : 'No — fix the cause first'),
        error?.retry_after != null ? fact('Retry after', `${error.retry_after} s`) : null,
        fact('Step', error?.step_id ?? '—')),
      !retryCanHelp(job) ? h('p', { class: 'muted', 'data-role': 'no-retry' }, 'Retry is not offered: this failure would happen again. Fix the cause (input, configuration or budget) and submit a new job.') : null,
      suggestions.length ? [h('h3', null, 'What to do'), h('ul', null, suggestions.map((s) => h('li', null, s)))] : null,
      error?.details ? h('details', null, h('summary', null, 'Details'), h('pre', { class: 'json' }, formatJson(error.details))) : null));
  }

  function renderInput() {
    const input = job.input_data ?? job.input;
    replace(inputBox, h('section', { class: 'card', 'aria-labelledby': 'input-title' },
      h('h2', { id: 'input-title' }, 'Input'),
      input === undefined
        ? h('p', { class: 'muted' }, 'The status API does not return the job input.')
        : h('pre', { class: 'json', 'data-role': 'input', tabindex: '0' }, formatJson(input))));
  }

  let webhooksAvailable = false;
  // Only a job that has sent a webhook event can replay one (the route answers 404 otherwise).
  let hasWebhookEvents = false;
  async function loadWebhooks() {
    webhooksAvailable = await offers('GET', '/admin/webhooks/{}');
    const section = (body) => replace(webhookBox, h('section', { class: 'card', 'aria-labelledby': 'webhook-title' }, h('h2', { id: 'webhook-title' }, 'Webhook deliveries'), body));
    if (!webhooksAvailable) {
      section(h('p', { class: 'muted' }, 'This API does not offer webhook delivery history yet (GET /api/v1/admin/webhooks/{job_id}).'));
      return;
    }
    try {
      const { data } = await api(`/admin/webhooks/${jobId}`);
      const attempts = Array.isArray(data) ? data : data?.attempts ?? [];
      hasWebhookEvents = attempts.length > 0;
      if (attempts.length === 0) {
        section(h('p', { class: 'muted' }, 'No webhook deliveries for this job.'));
        return;
      }
      const preferred = ['attempt_number', 'event_type', 'state', 'http_status', 'error_message', 'attempted_at', 'duration_ms', 'next_retry_at', 'webhook_url'];
      const all = [...new Set(attempts.flatMap((a) => Object.keys(a).filter((k) => a[k] == null || typeof a[k] !== 'object')))];
      const known = preferred.filter((k) => all.includes(k));
      const keys = known.length >= 3 ? known : all;
      section(table({
        caption: `${attempts.length} attempt${attempts.length === 1 ? '' : 's'}`,
        columns: keys.map((k) => ({ label: k.replaceAll('_', ' '), cell: (a) => (k.endsWith('_at') ? formatDate(a[k]) : String(a[k] ?? '—')) })),
        rows: attempts,
      }));
    } catch (error) {
      section(h('p', { class: error instanceof ApiError && error.status === 404 ? 'muted' : 'notice error' }, error.message));
    }
    if (job) renderActions();
  }

  function connect() {
    if (disposed || source || !job || TERMINAL.has(job.status) || typeof EventSource === 'undefined') {
      if (!source && job && !TERMINAL.has(job.status)) poll();
      return;
    }
    source = new EventSource(eventsUrl(jobId, lastEventId));
    liveState.textContent = 'Live: connected to the event stream.';
    const handle = (type) => (event) => {
      if (event.lastEventId) lastEventId = event.lastEventId;
      let data = {};
      try { data = JSON.parse(event.data); } catch { /* keep {} */ }
      onEvent(type, data);
    };
    for (const type of ['run_started', 'step_started', 'step_completed', 'llm_delta', 'llm_call_completed', 'run_waiting', 'run_completed', 'run_failed', 'cancelled',
      'agent_turn', 'agent_tool_call', 'agent_tool_result']) {
      source.addEventListener(type, handle(type));
    }
    source.onerror = () => {
      // EventSource reconnects by itself (sending Last-Event-ID); if it gives up, fall back to polling.
      if (source?.readyState === EventSource.CLOSED) {
        source = null;
        liveState.textContent = 'Live stream closed; polling for updates.';
        poll();
      } else {
        liveState.textContent = 'Live: reconnecting…';
      }
    };
  }

  function disconnect() {
    source?.close();
    source = null;
  }

  function onEvent(type, data) {
    const key = data.step_key ?? data.step_id;
    switch (type) {
      case 'run_started':
        job.status = 'processing';
        // A retried job's new run is the attempt after the last one that ended (the status read below confirms it).
        job.attempt = Math.max(job.attempt || 1, ...(job.previous_attempts ?? []).map((a) => a.attempt + 1));
        renderProgress();
        // The start time and attempt come from the job row the worker just claimed.
        loadStatus().catch(() => {});
        break;
      case 'step_started':
        // A step an earlier attempt ran starts afresh: its old row (output, input, text) no longer describes it.
        if ((steps.get(key)?.job_attempt ?? job.attempt) < job.attempt) {
          steps.delete(key);
          streams.delete(key);
        }
        mergeStep(key, {
          step_id: data.step_id, display_name: data.display_name, status: 'running', type: data.step_type, job_attempt: job.attempt,
          parent_step_id: data.parent_step_id ?? undefined, started_at: data.timestamp,
        });
        if (!data.parent_step_id) {
          job.status = 'processing';
          job.progress = { current_step_id: data.step_id, current_step_name: data.display_name, percent: data.percent ?? 0 };
        }
        renderProgress();
        renderTimeline();
        break;
      case 'step_completed':
        mergeStep(key, {
          step_id: data.step_id, display_name: data.display_name, status: data.status, duration_ms: data.duration_ms,
          attempts: data.attempts, input_tokens: data.input_tokens, output_tokens: data.output_tokens, cost_usd: data.cost_usd,
          model: data.model, error: data.error ?? undefined, parent_step_id: data.parent_step_id ?? undefined, branch: data.branch ?? undefined,
        });
        if (!data.parent_step_id && job.progress) job.progress.percent = data.percent ?? job.progress.percent;
        renderProgress();
        renderTimeline();
        reloadSoon();
        break;
      case 'llm_delta': {
        const step = steps.get(key) ?? { key, step_id: data.step_id, display_name: data.step_id, status: 'running' };
        step.text = (step.text ?? '') + (data.text ?? '');
        steps.set(key, step);
        const pre = streams.get(key);
        if (pre) pre.textContent = step.text;
        else renderTimeline();
        break;
      }
      case 'agent_turn':
      case 'agent_tool_call':
      case 'agent_tool_result':
        // A turn paid or a tool called: the step's turns are read again (the events carry a summary only).
        agentPanels.get(key)?.refresh();
        break;
      case 'run_waiting':
        // Parked at a sleep or a wait for a signal: the status says what it waits for and until when.
        reloadSoon();
        break;
      case 'run_completed':
      case 'run_failed':
      case 'cancelled':
        // The server closes the stream after a terminal event; a retried job's old terminal event is followed by more.
        disconnect();
        refresh();
        break;
      default:
        break;
    }
  }

  // Events carry no step input, prompt or output: a finished step brings them in with one status read, however
  // many steps finish close together.
  let reloadTimer = null;
  function reloadSoon() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => {
      if (!disposed) loadStatus().catch(() => {});
    }, 400);
  }

  async function refresh() {
    try {
      await loadStatus();
    } catch (error) {
      // A newer read superseded this one, and follows the job in its place.
      if (error.name === 'AbortError') return;
      replace(message, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  }

  function poll() {
    clearTimeout(pollTimer);
    if (disposed) return;
    pollTimer = setTimeout(async () => {
      await refresh();
      if (job && !TERMINAL.has(job.status) && !source) poll();
    }, 2000);
  }

  try {
    await loadStatus();
  } catch (error) {
    replace(main, h('p', null, h('a', { href: '#/jobs' }, '← All jobs')), h('h1', { tabindex: '-1' }, 'Job not available'),
      h('p', { class: 'notice error', role: 'alert' }, error.message));
    return () => {};
  }
  // The definition orders sibling steps as written; without it (a removed workflow) they go by first start.
  api(`/workflows/${encodeURIComponent(job.workflow_name)}`).then(({ data }) => {
    order = definitionOrder(data);
    definedAgents = agentSteps(data);
    if (job) showParkedAgent();
    if (!disposed && steps.size) renderTimeline();
    // Says the timeline's siblings now follow the definition (pages and tests read the order only after this).
    main.dataset.stepOrder = 'definition';
  }).catch(() => {});
  dashboardConfig().then((config) => { aspireUrl = config.aspire_dashboard_url; if (!disposed) render(); });
  loadWebhooks();

  return () => {
    disposed = true;
    disconnect();
    for (const panel of agentPanels.values()) panel.dispose();
    clearTimeout(pollTimer);
    clearTimeout(reloadTimer);
    document.title = 'LlmWorkflow dashboard';
  };
}
