// Queue & workers: dispatch streams per priority band, consumers, worker heartbeats, dead letters, cleanups.
import { api } from '../api.js';
import { h, replace, table, field, toast } from '../dom.js';
import { formatDate, formatDuration } from '../format.js';
import { latestRequest } from '../latest.js';

const REFRESH_MS = 5000;

/** A settings period in its largest whole unit: 7 days, 1 h, 30 min. */
function formatSpan(seconds) {
  if (seconds % 86400 === 0) return `${seconds / 86400} day${seconds === 86400 ? '' : 's'}`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

export async function renderQueue(main) {
  let timer = null;
  let disposed = false;
  const requests = latestRequest();
  const content = h('div', { 'aria-live': 'off' });
  const message = h('div');
  const updated = h('p', { class: 'muted small-text' });
  const days = h('input', { type: 'number', min: 1, value: 7, name: 'days', inputmode: 'numeric', style: 'width:6rem' });
  const lastRuns = h('div', { 'data-role': 'maintenance-runs' });

  replace(main,
    h('h1', { tabindex: '-1' }, 'Queue & workers'),
    updated, message, content,
    h('section', { class: 'card', 'aria-labelledby': 'maint-title' },
      h('h2', { id: 'maint-title' }, 'Maintenance'),
      lastRuns,
      h('div', { class: 'toolbar' },
        confirmButton('Fail stale jobs', 'Mark stuck jobs as failed?', () => api('/admin/cleanup/stale', { method: 'POST' })),
        field('Older than (days)', days),
        confirmButton('Delete old jobs', 'Delete finished jobs older than that?', () => api(`/admin/cleanup/old?days=${encodeURIComponent(days.value || '7')}`, { method: 'POST' })))));

  function confirmButton(label, question, call) {
    // Two-step confirmation without a blocking dialog: the first press asks, the second acts.
    const button = h('button', { type: 'button', class: 'button danger' }, label);
    let armed = false;
    button.addEventListener('click', async () => {
      if (!armed) {
        armed = true;
        button.textContent = `${question} Press again`;
        setTimeout(() => { armed = false; button.textContent = label; }, 5000);
        return;
      }
      armed = false;
      button.textContent = label;
      button.disabled = true;
      try {
        const { data } = await call();
        toast(`${label}: ${data?.affected ?? 0} job(s) affected.`);
      } catch (error) {
        toast(error.message);
      } finally {
        button.disabled = false;
      }
      load();
    });
    return button;
  }

  async function load() {
    clearTimeout(timer);
    const request = requests.begin();
    try {
      const [{ data }, maintenance] = await Promise.all([
        api('/admin/queue', { signal: request.signal }),
        api('/admin/maintenance', { signal: request.signal }).then((r) => r.data, () => null),
      ]);
      if (disposed || !request.isLatest()) return;
      render(data);
      renderMaintenance(maintenance);
      replace(message);
      updated.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} s`;
    } catch (error) {
      if (disposed || !request.isLatest()) return;
      replace(message, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
    if (!disposed) timer = setTimeout(load, REFRESH_MS);
  }

  function render(q) {
    const streams = q.streams ?? [];
    const workers = q.workers ?? [];
    const pending = streams.reduce((sum, s) => sum + (s.pending ?? 0), 0);
    const backlog = streams.reduce((sum, s) => sum + (s.lag ?? 0), 0);
    const inFlight = workers.reduce((sum, w) => sum + (w.in_flight ?? 0), 0);
    replace(content,
      h('div', { class: 'stats', 'data-role': 'queue-stats' },
        stat('Workers alive', workers.length),
        stat('Jobs in flight', inFlight),
        stat('Waiting (lag)', backlog),
        stat('Delivered, not acked', pending),
        stat('Dead letters', q.dead_letters ?? 0),
        stat('Oldest queued', q.oldest_queued_at ? formatDate(q.oldest_queued_at) : '—')),
      h('section', { class: 'card', 'aria-labelledby': 'streams-title' },
        h('h2', { id: 'streams-title' }, 'Streams by priority band'),
        table({
          attrs: { 'data-role': 'streams' },
          columns: [
            { label: 'Band', cell: (s) => s.band },
            { label: 'Stream key', cell: (s) => h('code', null, s.key) },
            { label: 'Length', num: true, cell: (s) => String(s.length) },
            { label: 'Pending', num: true, cell: (s) => String(s.pending) },
            { label: 'Lag', num: true, cell: (s) => (s.lag == null ? '—' : String(s.lag)) },
            { label: 'Oldest pending idle', num: true, cell: (s) => (s.oldest_pending_idle_seconds == null ? '—' : formatDuration(s.oldest_pending_idle_seconds * 1000)) },
            { label: 'Consumers', cell: (s) => (s.consumers?.length ? h('ul', { class: 'step-meta' }, s.consumers.map((c) => h('li', null, `${c.name}: ${c.pending} pending, idle ${formatDuration(c.idle_ms)}`))) : 'none') },
          ],
          rows: streams,
        })),
      h('section', { class: 'card', 'aria-labelledby': 'workers-title' },
        h('h2', { id: 'workers-title' }, 'Workers'),
        workers.length === 0
          ? h('p', { class: 'notice warn' }, 'No worker heartbeat: queued jobs will wait until a worker starts.')
          : table({
            attrs: { 'data-role': 'workers' },
            columns: [
              { label: 'Worker', cell: (w) => h('code', null, w.worker_id) },
              { label: 'Host / PID', cell: (w) => `${w.host} / ${w.process_id}` },
              { label: 'In flight', cell: (w) => h('span', null, h('meter', { min: 0, max: w.max_concurrent_jobs || 1, value: w.in_flight, 'aria-label': `${w.in_flight} of ${w.max_concurrent_jobs} slots busy` }), ` ${w.in_flight} / ${w.max_concurrent_jobs}`) },
              { label: 'Started', cell: (w) => formatDate(w.started_at) },
              { label: 'Last seen', cell: (w) => formatDate(w.last_seen_at) },
            ],
            rows: workers,
          })));
  }

  function renderMaintenance(m) {
    if (!m) {
      replace(lastRuns, h('p', { class: 'muted' }, 'The schedule is not available (GET /api/v1/admin/maintenance).'));
      return;
    }
    const every = formatSpan(m.interval_seconds);
    replace(lastRuns,
      h('p', { class: 'muted small-text' }, m.enabled
        ? `Scheduled in the workers every ${every}: stale after ${formatSpan(m.stale_processing_after_seconds)} processing or ${formatSpan(m.stale_waiting_after_seconds)} waiting; finished jobs kept ${formatSpan(m.retention_seconds)}.`
        : 'Scheduled maintenance is off; use the buttons below.'),
      (m.last_runs ?? []).length === 0
        ? h('p', { class: 'muted' }, 'No scheduled run yet.')
        : table({
          caption: 'Last scheduled runs',
          attrs: { 'data-role': 'maintenance' },
          columns: [
            { label: 'Task', cell: (r) => r.task.replaceAll('_', ' ') },
            { label: 'Last run', cell: (r) => formatDate(r.finished_at) },
            { label: 'Jobs', num: true, cell: (r) => String(r.affected) },
            { label: 'Worker', cell: (r) => h('code', null, r.runner) },
            { label: 'Result', cell: (r) => (r.error ? h('span', { class: 'notice error' }, r.error) : 'ok') },
          ],
          rows: m.last_runs,
        }));
  }

  function stat(label, value) {
    return h('div', { class: 'stat' }, h('div', { class: 'value' }, String(value)), h('div', { class: 'label' }, label));
  }

  await load();
  return () => { disposed = true; clearTimeout(timer); requests.cancel(); };
}
