// Waiting: jobs parked at a sleep, a wait_for_event or an approval step, on a budget or for a tenant slot, with what each waits for and until when.
// An approval can be decided here (Approve / Reject with a comment: POST /jobs/{id}/signals/{event} with
// decided_by "dashboard", through the operator's key), and any waiting job can be sent a signal with a JSON body.
import { api } from '../api.js';
import { h, replace, table, field, toast, select } from '../dom.js';
import { shortId, timeCell } from '../format.js';
import { latestRequest } from '../latest.js';

const KINDS = [['', 'All waits'], ['approval', 'Approvals'], ['event', 'Signals (wait_for_event)'], ['sleep', 'Sleeps'],
  ['budget', 'Budgets and providers (LLM calls parked)'], ['batch', 'Provider batches'], ['slot', 'Tenant slots (MaxConcurrentJobs)']];
const LIMIT = 50;
const REFRESH_MS = 5000;
const PREVIEW_CHARS = 240;
// Every wait by default: the Jobs list's "waiting" count and this view's agree (it opened on Approvals and hid the rest).
const state = { kind: '' };

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
      // A job the list calls waiting stays a row even when its status read fails or names no wait (shown as such).
      const waiting = (data?.jobs ?? []).map((summary, i) => jobs[i] ?? summary).filter((j) => j.status === 'waiting');
      const rows = waiting.filter((j) => !state.kind || j.waiting_for?.kind === state.kind);
      const total = data?.total ?? waiting.length;
      replace(message);
      replace(content, rows.length === 0
        ? h('p', { class: 'muted', 'data-role': 'waiting-empty' }, state.kind === 'approval' ? 'No job waits for an approval.' : state.kind ? 'No job waits this way.' : 'No job is waiting.')
        : table({ caption: caption(rows.length, waiting.length, total), columns: COLUMNS, rows, rowAttrs: (j) => ({ 'data-job-id': j.job_id, 'data-kind': j.waiting_for?.kind ?? 'unknown' }) }));
    } catch (error) {
      if (error.name === 'AbortError' || disposed) return;
      replace(message, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  }

  function caption(shown, read, total) {
    const of = total > read ? ` (the newest ${read} of ${total} read)` : '';
    return state.kind ? `${shown} of ${read} waiting job(s) wait this way${of}` : `${total} waiting job(s)${of}`;
  }

  const COLUMNS = [
    { label: 'Job', cell: (j) => [h('a', { href: `#/jobs/${j.job_id}` }, j.workflow_name), h('div', { class: 'muted small-text mono' }, shortId(j.job_id))] },
    { label: 'Waits for', cell: (j) => describe(j) },
    { label: 'Until', cell: (j) => (j.waiting_for ? timeCell(h, j.waiting_for.until) : '—') },
    { label: 'Actions', cell: (j) => actions(j) },
  ];

  function describe(job) {
    const wait = job.waiting_for;
    if (!wait) return [h('strong', null, 'Waiting'), ' (open the job for what it waits for)'];
    switch (wait.kind) {
      case 'approval': return [h('strong', null, 'Approval'), ` at “${wait.step_id}”`, wait.prompt ? h('div', { 'data-role': 'prompt' }, wait.prompt) : null, approving(job)];
      case 'event': return [h('strong', null, 'Signal'), ` “${wait.event}” at “${wait.step_id}”`];
      case 'budget': return [h('strong', null, 'Parked LLM call'), ` at “${wait.step_id}”: its provider's budget or pause (Providers view)`];
      case 'batch': return [h('strong', null, 'Provider batch'), ` at “${wait.step_id}”${wait.provider ? ` (${wait.provider})` : ''}`];
      case 'slot': return [h('strong', null, 'Tenant slot'), ' (its tenant runs its MaxConcurrentJobs)'];
      case 'sleep': return [h('strong', null, 'Sleep'), ` at “${wait.step_id}”`];
      default: return [h('strong', null, wait.kind), ` at “${wait.step_id}”`];
    }
  }

  /** What the approval decides on: the output of the step that finished last before it, shortened, and the page that shows it whole. */
  function approving(job) {
    const done = (job.steps ?? []).filter((st) => st.status === 'completed' && st.output != null && st.step_id !== job.waiting_for.step_id);
    const last = done.sort((a, b) => Date.parse(b.finished_at ?? 0) - Date.parse(a.finished_at ?? 0))[0];
    const link = job.waiting_for.decision_url
      ? h('a', { href: job.waiting_for.decision_url, target: '_blank', rel: 'noopener', 'data-role': 'decision-page' }, 'Open the decision page')
      : h('a', { href: `#/jobs/${job.job_id}` }, 'Open the job');
    if (!last) return h('div', { class: 'small-text' }, link);
    const text = typeof last.output === 'string' ? last.output : JSON.stringify(last.output);
    return h('div', { class: 'small-text', 'data-role': 'approving' },
      h('span', { class: 'muted' }, `Approving the output of “${last.display_name ?? last.step_id}”: `),
      h('q', { class: 'wrap-anywhere' }, text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text), ' ', link);
  }

  function actions(job) {
    const wait = job.waiting_for;
    const parts = [];
    if (!wait) return parts;
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
    // target-size: the summary is a control (WCAG 2.2 target size, at least 24 px tall).
    return h('details', null, h('summary', { class: 'target-size' }, 'Send any signal'),
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
