// A job's run attempts, each with its own trace: a retry, a crash recovery and a resume after a wait each start a
// run, and a retried job's attempts are separate traces. The job page lists them all, the latest first marked.
import { h } from './dom.js';
import { formatDate } from './format.js';
import { traceUrl } from './config.js';

/**
 * The list of the job's attempt traces (attempt_traces of the status API), linked to the Aspire dashboard when it is
 * known; null when the job has at most one (the Trace fact already links it).
 */
export function attemptTraceList(job, aspireUrl) {
  const traces = job.attempt_traces ?? [];
  if (traces.length < 2) return null;
  const latest = traces.length - 1;
  return h('ol', { 'data-role': 'attempt-traces' }, traces.map((t, i) => {
    const text = `Attempt ${t.attempt} trace${i === latest ? ' (latest)' : ''}`;
    const href = traceUrl(aspireUrl, t.trace_id);
    return h('li', { 'data-attempt': String(t.attempt), 'data-trace-id': t.trace_id, 'data-latest': String(i === latest) },
      href
        ? h('a', { href, target: '_blank', rel: 'noopener', 'data-role': 'attempt-trace', title: `Trace ${t.trace_id} in the Aspire dashboard` }, text)
        : h('span', { 'data-role': 'attempt-trace' }, text, ' ', h('code', null, t.trace_id)),
      h('span', { class: 'muted small-text' }, ` — ${formatDate(t.started_at)}${t.worker_id ? ` on ${t.worker_id}` : ''}`));
  }));
}
