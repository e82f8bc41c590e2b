// Activity: throughput, failure rate, queue wait and run time by workflow over time (GET /admin/metrics/jobs, which
// PostgreSQL aggregates from the jobs table). Each chart has its numbers in a table beneath it.
import { api } from '../api.js';
import { h, replace, select, field, table } from '../dom.js';
import { formatDuration, formatTokens } from '../format.js';
import { lineChart, legend } from '../charts.js';
import { latestRequest } from '../latest.js';
import { tenantField, withTenant } from '../tenant.js';

const HOUR = 3_600_000;
const BUCKET_MS = { minute: 60_000, hour: HOUR, day: 24 * HOUR };
const PERIODS = {
  '1h': { label: 'Last hour (per minute)', span: HOUR, bucket: 'minute' },
  '24h': { label: 'Last 24 hours (per hour)', span: 24 * HOUR, bucket: 'hour' },
  '7d': { label: 'Last 7 days (per hour)', span: 7 * 24 * HOUR, bucket: 'hour' },
  '30d': { label: 'Last 30 days (per day)', span: 30 * 24 * HOUR, bucket: 'day' },
};
const state = { period: '1h' };
const percent = (v) => `${(v * 100).toFixed(v > 0 && v < 0.1 ? 1 : 0)}%`;

export async function renderActivity(main) {
  let disposed = false;
  const requests = latestRequest();
  const period = select({ name: 'period' }, Object.entries(PERIODS).map(([value, p]) => [value, p.label]), state.period);
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  const message = h('div');
  const content = h('div');
  period.addEventListener('change', () => { state.period = period.value; load(); });

  replace(main,
    h('h1', { tabindex: '-1' }, 'Activity'),
    h('form', { class: 'toolbar', 'aria-label': 'Activity period', onsubmit: (e) => { e.preventDefault(); load(); } },
      field('Period', period), tenantField(() => load()), h('button', { type: 'submit', class: 'button secondary' }, 'Refresh')),
    summary, message, content);

  async function load() {
    const choice = PERIODS[state.period];
    const to = new Date();
    const from = new Date(to.getTime() - choice.span);
    const params = withTenant(new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), bucket: choice.bucket }));
    const request = requests.begin();
    try {
      const { data } = await api(`/admin/metrics/jobs?${params}`, { signal: request.signal });
      if (disposed || !request.isLatest()) return;
      content.dataset.query = params.toString();
      replace(message);
      render(data);
    } catch (error) {
      if (!disposed && request.isLatest() && error.name !== 'AbortError') replace(message, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  }

  function chartWidth() {
    const available = main.clientWidth || 640;
    return Math.round(Math.max(280, Math.min(900, available - 56)));
  }

  function render(r) {
    const from = new Date(r.from).getTime();
    const to = new Date(r.to).getTime();
    const timeFormat = new Intl.DateTimeFormat(undefined, r.bucket === 'day' ? { month: 'short', day: 'numeric' } : { hour: '2-digit', minute: '2-digit' });
    const timeLabel = (t) => timeFormat.format(new Date(t));
    const bucketFormat = new Intl.DateTimeFormat(undefined, r.bucket === 'day' ? { dateStyle: 'medium' } : { dateStyle: 'short', timeStyle: 'short' });
    const per = r.bucket;
    const buckets = r.throughput.map((b) => ({ ...b, t: new Date(b.start).getTime() }));
    const sum = (key) => buckets.reduce((n, b) => n + b[key], 0);
    const totals = { submitted: sum('submitted'), completed: sum('completed'), failed: sum('failed'), cancelled: sum('cancelled') };
    const finished = totals.completed + totals.failed;
    summary.textContent = `${new Date(r.from).toLocaleString()} – ${new Date(r.to).toLocaleString()}, ${buckets.length} buckets of one ${per}`;
    const busy = buckets.filter((b) => b.submitted + b.completed + b.failed + b.cancelled > 0);
    // Steps, not slopes: a bucket's figure holds for its whole bucket (a jump within a minute draws as a jump).
    const opts = { from, to, width: chartWidth(), timeLabel, step: BUCKET_MS[r.bucket] ?? 0 };

    const throughputChart = lineChart(
      ['submitted', 'completed', 'failed'].map((key) => ({ name: key, points: buckets.map((b) => ({ t: b.t, v: b[key] })) })),
      { ...opts, title: `Jobs per ${per}: ${totals.submitted} submitted, ${totals.completed} completed, ${totals.failed} failed, ${totals.cancelled} cancelled`, format: (v) => formatTokens(v), integer: true });
    const rated = buckets.filter((b) => b.failure_rate != null);
    const failureChart = lineChart([{ name: 'failure rate', points: rated.map((b) => ({ t: b.t, v: b.failure_rate })) }],
      { ...opts, title: `Failure rate per ${per} (failed / finished): ${finished ? percent(totals.failed / finished) : 'no finished jobs'} over the period`, format: percent });

    replace(content,
      h('div', { class: 'stats', 'data-role': 'activity-totals' },
        stat('Submitted', totals.submitted, 'submitted'), stat('Completed', totals.completed, 'completed'),
        stat('Failed', totals.failed, 'failed'), stat('Cancelled', totals.cancelled, 'cancelled'),
        h('div', { class: 'stat', 'data-total': 'failure_rate', 'data-value': finished ? String(totals.failed / finished) : '' },
          h('div', { class: 'value' }, finished ? percent(totals.failed / finished) : '—'), h('div', { class: 'label' }, 'Failure rate'))),
      card('throughput', `Throughput (jobs per ${per})`, [throughputChart, legend(['submitted', 'completed', 'failed'])],
        busy.length === 0 ? h('p', { class: 'muted' }, 'No jobs in this period.') : table({
          caption: `Buckets with jobs (${busy.length} of ${buckets.length})`,
          attrs: { 'data-role': 'throughput-table' },
          columns: [
            { label: 'Bucket start', cell: (b) => h('time', { datetime: b.start }, bucketFormat.format(new Date(b.start))) },
            ...['submitted', 'completed', 'failed', 'cancelled'].map((key) => ({ label: key.replace(/^./, (c) => c.toUpperCase()), num: true, cell: (b) => h('span', { 'data-metric': key }, String(b[key])) })),
            { label: 'Failure rate', num: true, cell: (b) => h('span', { 'data-metric': 'failure_rate' }, b.failure_rate == null ? '—' : percent(b.failure_rate)) },
          ],
          rows: busy,
          rowAttrs: (b) => ({ 'data-bucket': b.start }),
        })),
      card('failure-rate', `Failure rate (per ${per})`, [failureChart], null),
      latencyCards(r, opts, bucketFormat));
  }

  function latencyCards(r, opts, bucketFormat) {
    const workflows = r.by_workflow;
    if (workflows.length === 0) return card('latency', 'Queue wait and run time by workflow', [h('p', { class: 'muted' }, 'No finished jobs in this period.')], null);
    const names = workflows.map((w) => w.workflow_name);
    const series = (key) => workflows.map((w) => ({ name: w.workflow_name, points: w.buckets.map((b) => ({ t: new Date(b.start).getTime(), v: b[key] })) }));
    const rows = workflows.flatMap((w) => w.buckets.map((b) => ({ ...b, workflow_name: w.workflow_name })));
    return [
      card('queue-wait', 'Queue wait by workflow (p95)', [
        lineChart(series('queue_wait_p95_ms'), { ...opts, title: `Queue wait, 95th percentile per ${r.bucket}, for ${names.join(', ')}`, format: formatDuration }),
        legend(names)], null),
      card('run-time', 'Run time by workflow (p95)', [
        lineChart(series('run_time_p95_ms'), { ...opts, title: `Run time, 95th percentile per ${r.bucket}, for ${names.join(', ')}`, format: formatDuration }),
        legend(names)],
        table({
          caption: 'Latency of the jobs that finished in each bucket (p50 and p95)',
          attrs: { 'data-role': 'latency-table' },
          columns: [
            { label: 'Workflow', cell: (b) => b.workflow_name },
            { label: 'Bucket start', cell: (b) => h('time', { datetime: b.start }, bucketFormat.format(new Date(b.start))) },
            { label: 'Jobs', num: true, cell: (b) => h('span', { 'data-metric': 'jobs' }, String(b.jobs)) },
            { label: 'Wait p50', num: true, cell: (b) => h('span', { 'data-metric': 'queue_wait_p50_ms', 'data-value': String(b.queue_wait_p50_ms) }, formatDuration(b.queue_wait_p50_ms)) },
            { label: 'Wait p95', num: true, cell: (b) => h('span', { 'data-metric': 'queue_wait_p95_ms', 'data-value': String(b.queue_wait_p95_ms) }, formatDuration(b.queue_wait_p95_ms)) },
            { label: 'Run p50', num: true, cell: (b) => h('span', { 'data-metric': 'run_time_p50_ms', 'data-value': String(b.run_time_p50_ms) }, formatDuration(b.run_time_p50_ms)) },
            { label: 'Run p95', num: true, cell: (b) => h('span', { 'data-metric': 'run_time_p95_ms', 'data-value': String(b.run_time_p95_ms) }, formatDuration(b.run_time_p95_ms)) },
          ],
          rows,
          rowAttrs: (b) => ({ 'data-workflow': b.workflow_name, 'data-bucket': b.start }),
        })),
    ];
  }

  function stat(label, value, key) {
    return h('div', { class: 'stat', 'data-total': key, 'data-value': String(value) },
      h('div', { class: 'value' }, formatTokens(value)), h('div', { class: 'label' }, label));
  }

  function card(key, title, body, tableEl) {
    const id = `activity-${key}`;
    return h('section', { class: 'card', 'aria-labelledby': id, 'data-chart': key },
      h('h2', { id }, title), body,
      tableEl ? h('details', { class: 'chart-table' }, h('summary', null, 'Show the numbers as a table'), tableEl) : null);
  }

  await load();
  return () => { disposed = true; requests.cancel(); };
}
