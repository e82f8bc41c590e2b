// A scheduled job on its page: what holds it (a future run_at, or — due already — its workflow's pause), and the
// actions Run now and Reschedule (PATCH /jobs/{id}: delay_seconds or run_at, as a submission gives them).
import { api } from './api.js';
import { h } from './dom.js';
import { formatDate } from './format.js';

/** The progress line of a scheduled job. A held job is due already (run_at at its hold): "Scheduled for" its creation time said nothing. */
export function scheduledText(job, pause) {
  const due = job.run_at && new Date(job.run_at).getTime() <= Date.now();
  if (!due) return `Scheduled for ${formatDate(job.run_at)} (no worker slot held)`;
  return pause
    ? `Held: its workflow ${job.workflow_name} is paused${pause.reason ? ` (${pause.reason})` : ''} — it runs when the workflow is resumed; no worker slot held`
    : `Due since ${formatDate(job.run_at)}: waiting to be queued (no worker slot held)`;
}

/** The workflow's pause when the job is due but still scheduled; null otherwise (or when the key may not read pauses). */
export async function pauseHolding(job) {
  if (job.status !== 'scheduled' || !job.run_at || new Date(job.run_at).getTime() > Date.now()) return null;
  try {
    const { data } = await api('/admin/pauses');
    return (data?.paused ?? []).find((p) => p.workflow_name === job.workflow_name) ?? null;
  } catch {
    return null;
  }
}

/** Run now and Reschedule for a scheduled job; `run(button, call)` is the page's action runner (toast, refresh). */
export function scheduledActions(job, run) {
  const when = h('input', { type: 'datetime-local', name: 'run_at', 'aria-label': 'New run time (your time zone)', required: true });
  return [
    h('button', {
      type: 'button', class: 'button', 'data-action': 'run-now',
      // One second is the shortest delay the API takes: the job is queued at once when it falls due.
      onclick: (e) => run(e.currentTarget, () => api(`/jobs/${job.job_id}`, { method: 'PATCH', body: { delay_seconds: 1 } })),
    }, 'Run now'),
    h('form', {
      class: 'inline-form', 'data-role': 'reschedule',
      onsubmit: (e) => {
        e.preventDefault();
        const at = new Date(when.value);
        if (Number.isNaN(at.getTime())) return;
        run(e.submitter ?? e.currentTarget.querySelector('button'), () => api(`/jobs/${job.job_id}`, { method: 'PATCH', body: { run_at: at.toISOString() } }));
      },
    }, when, h('button', { type: 'submit', class: 'button secondary', 'data-action': 'reschedule' }, 'Reschedule')),
  ];
}
