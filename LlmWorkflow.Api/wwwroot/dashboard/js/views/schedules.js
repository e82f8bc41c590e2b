// Schedules: the caller's cron schedules (GET /schedules, tenant-scoped as every route) with their next ticks, paused
// state and last decided ticks; Pause / Resume and Edit (PATCH /schedules/{id}), Run now (POST /schedules/{id}/trigger)
// and a link to the jobs the schedule started (#/jobs?schedule_id=…).
import { api } from '../api.js';
import { h, replace, table, field, toast } from '../dom.js';
import { formatDate, shortId, timeCell } from '../format.js';
import { latestRequest } from '../latest.js';

const REFRESH_MS = 10000;
const NEXT_RUNS_SHOWN = 3;

export async function renderSchedules(main) {
  let disposed = false;
  const requests = latestRequest();
  const message = h('div');
  const content = h('div', { 'data-role': 'schedules-box' });
  replace(main,
    h('h1', { tabindex: '-1' }, 'Schedules'),
    h('p', { class: 'muted' }, 'Cron schedules: each tick starts one job of the workflow (skipped while paused, or by the overlap policy). Times are your browser\'s; the cron reads the schedule\'s own time zone.'),
    message, content);

  async function load() {
    const request = requests.begin();
    try {
      const { data } = await api('/schedules?limit=200', { signal: request.signal });
      if (!request.isLatest() || disposed) return;
      const rows = data?.schedules ?? [];
      replace(message);
      replace(content, rows.length === 0
        ? h('p', { class: 'muted', 'data-role': 'schedules-empty' }, 'No schedule yet: POST /api/v1/schedules creates one (docs/SCHEDULES.md).')
        : table({
          caption: `${data.total} schedule(s)${data.total > rows.length ? `, the first ${rows.length} shown` : ''}`,
          columns: COLUMNS,
          rows,
          rowAttrs: (s) => ({ 'data-schedule-id': s.schedule_id, 'data-paused': String(s.paused) }),
        }));
    } catch (error) {
      if (error.name === 'AbortError' || disposed) return;
      replace(message, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  }

  const COLUMNS = [
    {
      label: 'Schedule',
      cell: (s) => [h('strong', { 'data-role': 'schedule-name' }, s.name), h('div', { class: 'muted small-text' }, `runs ${s.workflow_name}`),
        h('div', { class: 'muted small-text mono' }, shortId(s.schedule_id))],
    },
    { label: 'Cron', cell: (s) => [h('code', { 'data-role': 'cron' }, s.cron), h('div', { class: 'muted small-text' }, s.timezone)] },
    {
      label: 'Next runs',
      cell: (s) => s.paused
        ? h('span', { class: 'muted' }, 'none while paused')
        : h('ul', { class: 'plain-list', 'data-role': 'next-runs' }, (s.next_runs ?? []).slice(0, NEXT_RUNS_SHOWN).map((r) => h('li', null, timeCell(h, r.utc)))),
    },
    { label: 'State', cell: (s) => h('span', { class: `badge ${s.paused ? 'status-cancelled' : 'status-completed'}`, 'data-role': 'schedule-state' }, s.paused ? 'paused' : 'active') },
    { label: 'Jobs', cell: (s) => h('a', { href: `#/jobs?schedule_id=${s.schedule_id}`, 'data-role': 'schedule-jobs' }, 'Its jobs') },
    { label: 'Actions', cell: (s) => actions(s) },
  ];

  function actions(schedule) {
    const pause = h('button', {
      type: 'button', class: 'button secondary small', 'data-action': schedule.paused ? 'resume' : 'pause',
      onclick: (e) => change(e.currentTarget, schedule, { paused: !schedule.paused }, schedule.paused ? 'Resumed' : 'Paused'),
    }, schedule.paused ? 'Resume' : 'Pause');
    const runNow = h('button', {
      type: 'button', class: 'button small', 'data-action': 'run-now', disabled: schedule.paused ? true : null,
      title: schedule.paused ? 'Resume the schedule to run a tick' : null,
      onclick: (e) => trigger(e.currentTarget, schedule),
    }, 'Run now');
    return h('div', { class: 'actions' }, runNow, pause, editForm(schedule));
  }

  function editForm(schedule) {
    const name = h('input', { type: 'text', name: 'name', value: schedule.name, required: true, maxlength: 200 });
    const cron = h('input', { type: 'text', name: 'cron', value: schedule.cron, required: true, spellcheck: 'false' });
    const timezone = h('input', { type: 'text', name: 'timezone', value: schedule.timezone, required: true, spellcheck: 'false' });
    const save = h('button', { type: 'submit', class: 'button small', 'data-action': 'save-schedule' }, 'Save');
    return h('details', { class: 'edit-schedule' }, h('summary', { class: 'target-size' }, 'Edit'),
      h('form', {
        onsubmit: (e) => {
          e.preventDefault();
          change(save, schedule, { name: name.value, cron: cron.value, timezone: timezone.value }, 'Saved');
        },
      }, field('Name', name), field('Cron', cron, { hint: '5 fields, or 6 with seconds first' }), field('Time zone (IANA)', timezone), save));
  }

  async function change(button, schedule, body, done) {
    button.disabled = true;
    try {
      const { data } = await api(`/schedules/${schedule.schedule_id}`, { method: 'PATCH', body });
      toast(`${done}: ${data?.name ?? schedule.name}${data && !data.paused && data.next_run_at ? `, next run ${formatDate(data.next_run_at)}` : ''}.`);
      load();
    } catch (error) {
      toast(error.message);
      button.disabled = false;
    }
  }

  async function trigger(button, schedule) {
    button.disabled = true;
    try {
      await api(`/schedules/${schedule.schedule_id}/trigger`, { method: 'POST' });
      toast(`A tick of ${schedule.name} runs now: its job appears under “Its jobs”.`);
    } catch (error) {
      toast(error.message);
    } finally {
      button.disabled = false;
    }
    load();
  }

  await load();
  // No refresh while an edit form is open: it would throw the operator's typing away.
  const timer = setInterval(() => { if (!document.hidden && !content.querySelector('details[open]')) load(); }, REFRESH_MS);
  return () => { disposed = true; clearInterval(timer); requests.cancel(); };
}
