// Waiting: jobs parked at a sleep, a wait_for_event or an approval step, on a budget or for a tenant slot, with what each waits for and until when.
// An approval can be decided here (Approve / Reject with a comment: POST /jobs/{id}/signals/{event} with
// decided_by "dashboard", through the operator's key), and any waiting job can be sent a signal with a JSON body.
import { api } from '../api.js';
import { h, replace, table, field, toast, select } from '../dom.js';
import { shortId, timeCell } from '../format.js';
import { latestRequest } from '../latest.js';

const KINDS = [['', 'All waits'], ['approval', 'Approvals'], ['event', 'Signals (wait_for_event)'], ['sleep', 'Sleeps'],
  ['budget', 'Budgets (LLM calls that did not fit)'], ['slot', 'Tenant slots (MaxConcurrentJobs)']];
const LIMIT = 50;
const REFRESH_MS = 5000;
const state = { kind: 'approval' };

export async function renderWaiting(main) {
  let disposed = false;
  const requests = latestRequest();
  const kind = select({ name: 'kind' }, KINDS, state.kind);
  const message = h('div');
  const content = h('div', { 'data-role': 'waiting-box' });
  kind.addEventListener('change', () => { state.kind = kind.value; load(); });
  replace(main,
    h('h1', { tabindex: '-1' }, 'Waiting'),
    h('p', { class: 'muted' }, 'Jobs parked without a worker slot: what each waits for and until when. Decisions and signals sent here are recorded as the API\'s (decided_by: dashboard).'),
    h('div', { class: 'toolbar' }, field('Show', kind)),
    message, content);

  async function load() {
    const request = requests.begin();
    try {
      const { data } = await api(`/jobs?status_filter=waiting&limit=${LIMIT}`, { signal: request.signal });
      // The list's summaries do not say what a job waits for; its status does (at most LIMIT reads).
      const jobs = await Promise.all((data?.jobs ?? []).map((j) => api(`/jobs/${j.job_id}`, { signal: request.signal }).then((r) => r.data).catch(() => null)));
      if (!request.isLatest() || disposed) return;
      const rows = jobs.filter((j) => j?.status === 'waiting' && j.waiting_for && (!state.kind || j.waiting_for.kind === state.kind));
      replace(message);
      replace(content, rows.length === 0
        ? h('p', { class: 'muted', 'data-role': 'waiting-empty' }, state.kind === 'approval' ? 'No job waits for an approval.' : 'No job is waiting.')
        : table({ caption: `${rows.length} waiting job(s)`, columns: COLUMNS, rows, rowAttrs: (j) => ({ 'data-job-id': j.job_id, 'data-kind': j.waiting_for.kind }) }));
    } catch (error) {
      if (error.name === 'AbortError' || disposed) return;
      replace(message, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  }

  const COLUMNS = [
    { label: 'Job', cell: (j) => [h('a', { href: `#/jobs/${j.job_id}` }, j.workflow_name), h('div', { class: 'muted small-text mono' }, shortId(j.job_id))] },
    { label: 'Waits for', cell: (j) => describe(j.waiting_for) },
    { label: 'Until', cell: (j) => timeCell(h, j.waiting_for.until) },
    { label: 'Actions', cell: (j) => actions(j) },
  ];

  function describe(wait) {
    switch (wait.kind) {
      case 'approval': return [h('strong', null, 'Approval'), ` at “${wait.step_id}”`, wait.prompt ? h('div', { 'data-role': 'prompt' }, wait.prompt) : null];
      case 'event': return [h('strong', null, 'Signal'), ` “${wait.event}” at “${wait.step_id}”`];
      case 'budget': return [h('strong', null, 'Budget'), ` at “${wait.step_id}”`];
      case 'slot': return [h('strong', null, 'Tenant slot'), ' (its tenant runs its MaxConcurrentJobs)'];
      default: return [h('strong', null, 'Sleep'), ` at “${wait.step_id}”`];
    }
  }

  function actions(job) {
    const wait = job.waiting_for;
    const parts = [];
    if (wait.kind === 'approval') {
      const comment = h('input', { type: 'text', name: 'comment', maxlength: 2000, placeholder: 'Comment (optional)', 'aria-label': `Comment on job ${shortId(job.job_id)}` });
      const decide = (approved) => (e) => send(e.currentTarget, job, wait.event, { approved, comment: comment.value || null, decided_by: 'dashboard' });
      parts.push(h('div', { class: 'actions' },
        comment,
        h('button', { type: 'button', class: 'button small', 'data-action': 'approve', onclick: decide(true) }, 'Approve'),
        h('button', { type: 'button', class: 'button danger small', 'data-action': 'reject', onclick: decide(false) }, 'Reject')));
    }
    if (wait.kind === 'event' || wait.kind === 'approval') parts.push(signalForm(job, wait.event));
    return parts;
  }

  function signalForm(job, eventName) {
    const name = h('input', { type: 'text', name: 'event', value: eventName ?? '', required: true, pattern: '[A-Za-z0-9_.:\\-]{1,100}' });
    const body = h('textarea', { name: 'body', rows: 2, spellcheck: 'false' }, '{}');
    const button = h('button', { type: 'submit', class: 'button secondary small', 'data-action': 'send-signal' }, 'Send signal');
    return h('details', null, h('summary', null, 'Send any signal'),
      h('form', {
        onsubmit: (e) => {
          e.preventDefault();
          let json;
          try { json = body.value.trim() ? JSON.parse(body.value) : null; } catch (error) { toast(`The body is not JSON: ${error.message}`); return; }
          send(button, job, name.value, json);
        },
      }, field('Event', name), field('Body (JSON)', body), button));
  }

  async function send(button, job, eventName, body) {
    button.disabled = true;
    try {
      const { data } = await api(`/jobs/${job.job_id}/signals/${encodeURIComponent(eventName)}`, { method: 'POST', body });
      toast(data?.status === 'resumed' ? `Sent: job ${shortId(job.job_id)} resumed.` : `Sent (${data?.status ?? 'stored'}).`);
    } catch (error) {
      toast(error.message);
    } finally {
      button.disabled = false;
    }
    load();
  }

  await load();
  // The refresh leaves the table alone while the operator is typing a comment or a signal.
  const busy = () => content.contains(document.activeElement) || content.querySelector('details[open]')
    || [...content.querySelectorAll('input[name=comment]')].some((i) => i.value);
  const timer = setInterval(() => { if (!document.hidden && !busy()) load(); }, REFRESH_MS);
  return () => { disposed = true; clearInterval(timer); requests.cancel(); };
}
