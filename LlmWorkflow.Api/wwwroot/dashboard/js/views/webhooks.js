// Webhooks: dead-lettered deliveries (retries exhausted) across all jobs, with per-row and bulk replay.
import { api } from '../api.js';
import { h, replace, table, field, toast } from '../dom.js';
import { formatDate, shortId } from '../format.js';
import { latestRequest } from '../latest.js';

export async function renderWebhooks(main) {
  let disposed = false;
  const requests = latestRequest();
  const limit = h('input', { type: 'number', min: 1, max: 500, value: 50, name: 'limit', inputmode: 'numeric', style: 'width:6rem' });
  const message = h('div');
  const content = h('div', { 'data-role': 'dead-letters-box' });
  let shown = [];
  const replayAll = confirmButton('Replay all shown', 'Replay every event listed?', replayShown, { 'data-action': 'replay-all' });

  limit.addEventListener('change', () => load());
  replace(main,
    h('h1', { tabindex: '-1' }, 'Webhooks'),
    h('p', { class: 'muted' }, 'Deliveries whose retries are exhausted (dead-lettered), newest first. A replay sends the event again now, with the same webhook-id.'),
    h('div', { class: 'toolbar' }, field('Show at most', limit), replayAll),
    message, content);

  function confirmButton(label, question, call, attrs) {
    // Two-step confirmation without a blocking dialog, as on the Queue view: the first press asks, the second acts.
    const button = h('button', { type: 'button', class: 'button danger', ...attrs }, label);
    let armed = false;
    button.addEventListener('click', async () => {
      if (!armed) {
        armed = true;
        button.textContent = `${question} Press again`;
        setTimeout(() => { armed = false; if (!button.disabled) button.textContent = label; }, 5000);
        return;
      }
      armed = false;
      button.textContent = label;
      button.disabled = true;
      try {
        toast(await call());
      } catch (error) {
        toast(error.message);
      } finally {
        button.disabled = false;
      }
      load();
    });
    return button;
  }

  // The bulk route replays by time, so "all shown" is the listed events replayed one by one (nothing unseen is sent).
  async function replayShown() {
    const jobs = [...new Set(shown.map((d) => d.job_id))];
    const results = await Promise.allSettled(jobs.map((id) => api(`/admin/webhooks/${id}/replay`, { method: 'POST' })));
    const failed = results.filter((r) => r.status === 'rejected').length;
    return failed === 0 ? `Replayed ${jobs.length} event(s).` : `Replayed ${jobs.length - failed} event(s); ${failed} failed.`;
  }

  async function load() {
    const request = requests.begin();
    const n = Number(limit.value);
    if (!Number.isInteger(n) || n < 1 || n > 500) {
      replace(message, h('p', { class: 'notice error', role: 'alert' }, 'Show at most: a whole number from 1 to 500.'));
      return;
    }
    try {
      const { data } = await api(`/admin/webhooks/dead-letters?limit=${n}`, { signal: request.signal });
      if (disposed || !request.isLatest()) return;
      replace(message);
      render(Array.isArray(data) ? data : []);
    } catch (error) {
      if (disposed || !request.isLatest() || error.name === 'AbortError') return;
      replace(message, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  }

  function render(rows) {
    shown = rows;
    replayAll.disabled = rows.length === 0;
    if (rows.length === 0) {
      replace(content, h('p', { class: 'notice', 'data-role': 'dead-letters-empty' }, 'No dead-lettered webhook deliveries: every event was delivered or is still being retried.'));
      return;
    }
    replace(content, table({
      caption: `${rows.length} dead-lettered event${rows.length === 1 ? '' : 's'}`,
      attrs: { 'data-role': 'dead-letters' },
      columns: [
        // The same part of the id as the jobs list: the last characters (the first ones are its creation time).
        // Its name is the text it shows (axe: label-content-name-mismatch); the full id is its title.
        { label: 'Job', cell: (d) => h('a', { href: `#/jobs/${d.job_id}`, class: 'mono', title: `Job ${d.job_id}` }, shortId(d.job_id)) },
        { label: 'Event', cell: (d) => d.event_type },
        { label: 'URL', cell: (d) => h('code', { class: 'wrap-anywhere' }, d.webhook_url) },
        { label: 'Attempts', num: true, cell: (d) => String(d.attempt_number) },
        { label: 'Last error', cell: (d) => h('span', { class: 'wrap-anywhere' }, d.error_message ?? (d.http_status ? `HTTP ${d.http_status}` : '—')) },
        { label: 'When', cell: (d) => formatDate(d.attempted_at) },
        { label: 'Action', cell: (d) => confirmButton('Replay', 'Replay?', async () => {
          await api(`/admin/webhooks/${d.job_id}/replay`, { method: 'POST' });
          return `Replay of ${d.event_type} for job ${shortId(d.job_id)} scheduled.`;
        }, { 'data-action': 'replay', class: 'button secondary small' }) },
      ],
      rows,
    }));
  }

  await load();
  return () => { disposed = true; requests.cancel(); };
}
