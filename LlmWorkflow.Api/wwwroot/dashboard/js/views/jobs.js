// Jobs: the admin "LLM Queue" list (document 003): status filter, limit results (default 25), search, auto refresh,
// live mini progress for running jobs, cancel and retry from the list; server-side sorting by the column headers,
// bulk cancel/retry/delete of selected rows, the tenant filter, and the cost drill-down filters (#/jobs?model=...).
// Every filter and the order live in the URL (#/jobs?status_filter=failed&search=kyoto), so a view can be shared,
// bookmarked and left with the back button; each failed row shows its error, and counts per status lead to them.
import { api } from '../api.js';
import { latestRequest } from '../latest.js';
import { h, replace, select, field, toast, tableRow } from '../dom.js';
import { formatCost, formatDate, formatDuration, formatTokens, retryCanHelp, shortId, timeCell, ACTIVE } from '../format.js';
import { tenantField, tenantState, withTenant } from '../tenant.js';
import { bulkPanel } from './jobs-bulk.js';

export const LIMIT_RESULTS = ['25', '50', '100', '200', 'Today', '7 Days', '30 Days'];
const STATUS_NAMES = ['pending', 'queued', 'scheduled', 'processing', 'waiting', 'completed', 'failed', 'cancelled'];
const STATUSES = [['', 'All statuses'], ...STATUS_NAMES];
// Counts per status cost one capped count each: read when the filters change, and every few refreshes.
const COUNTS_EVERY = 5;
const REFRESH_MS = 3000;

// The drill-down filters a cost figure links to; they are shown (and cleared) above the table.
export const DRILL_DOWN = [['user_id', 'User id'], ['username', 'Username'], ['model', 'Model'], ['usage_from', 'LLM calls from'], ['usage_to', 'LLM calls before'], ['schedule_id', 'Schedule']];

// Filters survive navigating to a job and back. In the created-time order pages go by the API's cursor (a page
// costs the same however deep, and stays put while new jobs arrive); `cursors` holds the pages before this one.
// Other orders go by offset. `offset` is the page's position either way, for the "Showing" line.
const state = {
  status: '', workflow: '', limitResults: '25', search: '', offset: 0, cursor: null, cursors: [], autoRefresh: true,
  sort: 'created_at', order: 'desc', drill: {}, selected: new Set(),
};

/** Back to the first page (after any change of filter or order). */
function firstPage() {
  state.offset = 0;
  state.cursor = null;
  state.cursors = [];
}

export function statusBadge(status) {
  return h('span', { class: `badge ${status}`, 'data-status': status }, status);
}

const COLUMNS = [
  {
    label: 'Select',
    head: () => h('span', { class: 'visually-hidden' }, 'Select'),
    cell: (j) => h('input', {
      type: 'checkbox', 'data-action': 'select', checked: state.selected.has(j.job_id),
      'aria-label': `Select job ${shortId(j.job_id)} (${j.workflow_name})`,
      onchange: (e) => { if (e.currentTarget.checked) state.selected.add(j.job_id); else state.selected.delete(j.job_id); selectionChanged(); },
    }),
  },
  {
    label: 'Status',
    sort: 'status',
    cell: (j) => [statusBadge(j.status), ACTIVE.has(j.status) && j.status === 'processing'
      ? h('div', { class: 'mini-progress' },
        h('progress', { max: 100, value: j.progress_percent ?? 0, 'aria-label': `Progress of job ${shortId(j.job_id)}: ${j.progress_percent ?? 0}%` }),
        h('span', { class: 'step-name', 'data-role': 'current-step' }, `${j.current_step_name ?? 'Starting'} · ${j.progress_percent ?? 0}%`))
      : null],
  },
  {
    label: 'Workflow',
    sort: 'workflow_name',
    cell: (j) => [h('a', { href: `#/jobs/${j.job_id}` }, j.workflow_name), h('div', { class: 'muted small-text mono' }, shortId(j.job_id)),
      j.status === 'failed' && (j.error_message || j.error?.message)
        ? h('div', { class: 'row-error', 'data-role': 'row-error' }, j.error_message ?? j.error.message)
        : null],
  },
  // Username with the action beneath it: one column instead of two keeps the table within 1024 px.
  { label: 'User', sort: 'username', cell: (j) => [j.username ?? j.user_id ?? '—', j.action ? h('div', { class: 'muted small-text', 'data-role': 'action' }, j.action) : null] },
  { label: 'Priority', sort: 'priority', num: true, cell: (j) => String(j.priority) },
  { label: 'Created', sort: 'created_at', cell: (j) => timeCell(h, j.created_at) },
  { label: 'Duration', sort: 'duration_ms', num: true, cell: (j) => formatDuration(j.duration_ms) },
  { label: 'Tokens', sort: 'total_tokens', num: true, cell: (j) => formatTokens(j.total_tokens) },
  { label: 'Cost', sort: 'cost_usd', num: true, cell: (j) => formatCost(j.cost_usd) },
  { label: 'Actions', cell: (j) => rowActions(j) },
];

// Text columns start ascending, numbers and times descending (largest, newest first).
const TEXT_SORTS = new Set(['status', 'workflow_name', 'username']);

let selectionChanged = () => {};
let reload = () => {};

function rowActions(job) {
  const buttons = [];
  if (ACTIVE.has(job.status)) {
    buttons.push(h('button', {
      type: 'button', class: 'button danger small', 'data-action': 'cancel', 'aria-label': `Cancel job ${shortId(job.job_id)} (${job.workflow_name})`,
      onclick: (e) => act(e.currentTarget, () => api(`/workflow/${job.job_id}`, { method: 'DELETE' })),
    }, 'Cancel'));
  }
  // Not on a failure a retry cannot fix (a budget stop, bad input): the job page says what to do instead.
  if (retryCanHelp(job)) {
    buttons.push(h('button', {
      type: 'button', class: 'button secondary small', 'data-action': 'retry', 'aria-label': `Retry job ${shortId(job.job_id)} (${job.workflow_name})`,
      onclick: (e) => act(e.currentTarget, () => api(`/jobs/${job.job_id}/retry`, { method: 'POST' })),
    }, 'Retry'));
  }
  return h('div', { class: 'actions' }, buttons);
}

async function act(button, call) {
  button.disabled = true;
  try {
    const { data } = await call();
    toast(data?.message ?? 'Done.');
  } catch (error) {
    toast(error.body?.message ?? error.message);
  }
  reload();
}

const SORTS = new Set(COLUMNS.map((c) => c.sort).filter(Boolean));

/**
 * Reads the view from its URL: every filter and the order (a #/jobs link from the costs view, a bookmark, the back
 * button). A bare #/jobs keeps the filters of the last visit (from a job's page back to its list).
 */
function applyLink(queryString) {
  if (queryString == null) return;
  const params = new URLSearchParams(queryString);
  state.drill = {};
  for (const [key] of DRILL_DOWN) if (params.get(key)) state.drill[key] = params.get(key);
  state.workflow = params.get('workflow_name') ?? '';
  state.status = STATUS_NAMES.includes(params.get('status_filter')) ? params.get('status_filter') : '';
  state.search = params.get('search') ?? '';
  state.limitResults = LIMIT_RESULTS.includes(params.get('limit_results')) ? params.get('limit_results') : '25';
  const sort = params.get('sort');
  state.sort = SORTS.has(sort) ? sort : 'created_at';
  state.order = params.get('order') === 'asc' ? 'asc' : 'desc';
  tenantState.tenant = params.get('tenant_id') ?? '';
  firstPage();
}

/** The view's filters and order as a query string: the URL's and, with the page, the API's. */
function filterParams() {
  const params = new URLSearchParams();
  if (state.status) params.set('status_filter', state.status);
  if (state.limitResults) params.set('limit_results', state.limitResults);
  if (state.workflow) params.set('workflow_name', state.workflow);
  if (state.search) params.set('search', state.search);
  withTenant(params);
  for (const [key] of DRILL_DOWN) if (state.drill[key]) params.set(key, state.drill[key]);
  if (state.sort !== 'created_at' || state.order !== 'desc') { params.set('sort', state.sort); params.set('order', state.order); }
  return params;
}

/** Puts the filters into the address (a new history entry for a change, so Back undoes it) without redrawing. */
function syncUrl(push) {
  const hash = `#/jobs?${filterParams()}`;
  if (location.hash === hash) return;
  if (push) history.pushState(null, '', hash);
  else history.replaceState(null, '', hash);
}

export async function renderJobs(main, queryString) {
  applyLink(queryString);
  let timer = null;
  const requests = latestRequest();
  let disposed = false;

  const statusSelect = select({ name: 'status_filter' }, STATUSES, state.status);
  const limitSelect = select({ name: 'limit_results' }, LIMIT_RESULTS, state.limitResults);
  const workflowSelect = select({ name: 'workflow_name' }, [['', 'All workflows'], ...(state.workflow ? [state.workflow] : [])], state.workflow);
  const search = h('input', { type: 'search', name: 'search', value: state.search, placeholder: 'Id, user, action, input', autocomplete: 'off' });
  const auto = h('input', { type: 'checkbox', name: 'auto_refresh', checked: state.autoRefresh });
  const refresh = h('button', { type: 'button', class: 'button secondary' }, 'Refresh');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite', 'data-role': 'summary' });
  const counts = h('ul', { class: 'status-counts', 'data-role': 'status-counts', 'aria-label': 'Number of jobs in each state' });
  const message = h('div');
  const tbody = h('tbody');
  const caption = h('caption', { class: 'visually-hidden' });
  const headRow = h('tr');
  const tableEl = h('table', { class: 'responsive jobs-table', 'data-role': 'jobs', 'aria-describedby': 'jobs-summary' },
    caption, h('thead', null, headRow), tbody);
  const drillBar = h('div', { 'data-role': 'drill-down' });
  // A bulk action or "Clear selection" empties the selection: the rows' boxes and select-all show it at once, not
  // only when the reload answers (a click on a still-checked select-all would otherwise do nothing).
  const bulk = bulkPanel({ state, onDone: () => { renderRows(currentJobs); load(); } });
  selectionChanged = () => { bulk.update(currentJobs); syncSelectAll(); };
  const selectAll = h('input', {
    type: 'checkbox', 'data-role': 'select-all', 'aria-label': 'Select all jobs shown',
    onchange: (e) => {
      for (const j of currentJobs) { if (e.currentTarget.checked) state.selected.add(j.job_id); else state.selected.delete(j.job_id); }
      for (const box of tbody.querySelectorAll('input[data-action=select]')) box.checked = e.currentTarget.checked;
      selectionChanged();
    },
  });
  let currentJobs = [];

  function syncSelectAll() {
    const shown = currentJobs.filter((j) => state.selected.has(j.job_id)).length;
    selectAll.checked = shown > 0 && shown === currentJobs.length;
    selectAll.indeterminate = shown > 0 && shown < currentJobs.length;
  }

  function renderHead() {
    const sortLabel = COLUMNS.find((c) => c.sort === state.sort)?.label ?? state.sort;
    caption.textContent = `Jobs, sorted by ${sortLabel.toLowerCase()} ${state.order === 'asc' ? 'ascending' : 'descending'}`;
    replace(headRow, COLUMNS.map((c) => {
      if (c.label === 'Select') return h('th', { scope: 'col', class: 'select' }, selectAll);
      if (!c.sort) return h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label);
      const active = state.sort === c.sort;
      return h('th', {
        scope: 'col', class: c.num ? 'num' : null, 'data-sort': c.sort,
        'aria-sort': active ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none',
      }, h('button', {
        type: 'button', class: 'sort', 'data-sort': c.sort,
        onclick: () => {
          if (active) state.order = state.order === 'asc' ? 'desc' : 'asc';
          else { state.sort = c.sort; state.order = TEXT_SORTS.has(c.sort) ? 'asc' : 'desc'; }
          firstPage();
          renderHead();
          syncUrl(true);
          load();
          headRow.querySelector(`button[data-sort="${c.sort}"]`)?.focus();
        },
      }, c.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (state.order === 'asc' ? ' ▲' : ' ▼') : '')));
    }));
  }
  renderHead();
  renderDrill();

  function renderDrill() {
    const active = DRILL_DOWN.filter(([key]) => state.drill[key]);
    if (active.length === 0) { replace(drillBar); return; }
    replace(drillBar, h('p', { class: 'notice drill' },
      h('span', null, 'Jobs behind a cost figure: '),
      active.map(([key, label]) => h('span', { class: 'chip', 'data-filter': key }, `${label}: ${key.startsWith('usage_') ? formatDate(state.drill[key]) : state.drill[key]}`)),
      h('button', {
        type: 'button', class: 'button secondary small', 'data-action': 'clear-drill',
        onclick: () => { state.drill = {}; firstPage(); renderDrill(); syncUrl(true); load(); },
      }, 'Clear these filters')));
  }
  summary.id = 'jobs-summary';
  const prev = h('button', { type: 'button', class: 'button secondary small', disabled: true }, 'Previous');
  const next = h('button', { type: 'button', class: 'button secondary small', disabled: true }, 'Next');
  const updated = h('span', { class: 'muted small-text' });

  const onFilter = () => {
    state.status = statusSelect.value;
    state.workflow = workflowSelect.value;
    state.limitResults = limitSelect.value;
    state.search = search.value.trim();
    firstPage();
    syncUrl(true);
    load();
  };
  statusSelect.addEventListener('change', onFilter);
  workflowSelect.addEventListener('change', onFilter);
  limitSelect.addEventListener('change', onFilter);
  search.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); onFilter(); } });
  search.addEventListener('search', onFilter);
  refresh.addEventListener('click', () => load());
  auto.addEventListener('change', () => { state.autoRefresh = auto.checked; schedule(); });
  prev.addEventListener('click', () => {
    if (state.cursors.length > 0) state.cursor = state.cursors.pop();
    state.offset = Math.max(0, state.offset - pageSize);
    load();
  });
  next.addEventListener('click', () => {
    if (nextCursor) { state.cursors.push(state.cursor); state.cursor = nextCursor; }
    state.offset += pageSize;
    load();
  });

  replace(main,
    h('h1', { tabindex: '-1' }, 'Jobs'),
    h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Filter jobs', onsubmit: (e) => { e.preventDefault(); onFilter(); } },
      field('Status', statusSelect),
      field('Workflow', workflowSelect),
      field('Limit results', limitSelect),
      field('Search', search),
      tenantField(onFilter),
      h('button', { type: 'submit', class: 'button' }, 'Apply'),
      refresh,
      field('Auto refresh', auto, { inline: true })),
    drillBar, counts, summary, message, bulk.element,
    h('div', { class: 'table-wrap' }, tableEl),
    h('div', { class: 'pager' }, h('div', { class: 'actions' }, prev, next), updated));

  let pageSize = 25;
  let nextCursor = null;

  function query() {
    const params = filterParams();
    if (state.cursor) params.set('cursor', state.cursor);
    else if (state.offset) params.set('offset', String(state.offset));
    return params.toString();
  }

  let countsKey = null;
  let loadsSinceCounts = 0;

  /** One capped count per status under the other filters (the API's total of a one-row page). */
  async function loadCounts() {
    const params = filterParams();
    params.delete('status_filter');
    params.delete('sort');
    params.delete('order');
    // A page size is not a filter; a period (Today, 7 Days...) is, and keeps its name with a one-row page.
    if (/^\d+$/.test(state.limitResults)) params.delete('limit_results');
    params.set('limit', '1');
    const key = params.toString();
    if (key === countsKey && ++loadsSinceCounts < COUNTS_EVERY) return;
    countsKey = key;
    loadsSinceCounts = 0;
    try {
      const answers = await Promise.all(STATUS_NAMES.map((status) => api(`/jobs?${key}&status_filter=${status}`)));
      if (disposed || key !== countsKey) return;
      const figure = (data) => (data.total_exact === false ? `${(data.total - 1).toLocaleString('en-US')}+` : data.total.toLocaleString('en-US'));
      replace(counts, STATUS_NAMES.map((status, i) => h('li', null, h('a', {
        href: '#/jobs', 'data-count-status': status, 'data-count': String(answers[i].data.total), 'aria-current': state.status === status ? 'true' : null,
        onclick: (e) => { e.preventDefault(); statusSelect.value = state.status === status ? '' : status; onFilter(); },
      }, statusBadge(status), h('span', { class: 'count' }, figure(answers[i].data))))));
    } catch {
      countsKey = null; // try again with the next load
    }
  }

  async function load() {
    clearTimeout(timer);
    const request = requests.begin();
    const q = query();
    try {
      for (const link of counts.querySelectorAll('a[data-count-status]')) {
        if (link.dataset.countStatus === state.status) link.setAttribute('aria-current', 'true');
        else link.removeAttribute('aria-current');
      }
      const { data } = await api(`/jobs?${q}`, { signal: request.signal });
      const { jobs, total } = data;
      if (disposed || !request.isLatest()) return;
      pageSize = data.limit;
      nextCursor = data.next_cursor ?? null;
      renderRows(jobs);
      // After the rows: the list shows first, the counts follow.
      loadCounts();
      tableEl.dataset.query = q;
      tableEl.dataset.total = String(total);
      const first = jobs.length ? state.offset + 1 : 0;
      // Past the API's count limit total is a lower bound (total_exact false): "1,000+ jobs", not "of 1001".
      const of = data.total_exact === false
        ? `${(total - 1).toLocaleString('en-US')}+ jobs`
        : `${total} job${total === 1 ? '' : 's'}`;
      summary.textContent = `Showing ${first}–${state.offset + jobs.length} of ${of}`;
      prev.disabled = state.offset === 0;
      // In the created-time order the API's cursor says whether a next page exists (a full page carries one).
      next.disabled = state.offset + jobs.length >= total || (state.sort === 'created_at' && !nextCursor);
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      replace(message);
    } catch (error) {
      if (error.name === 'AbortError' || disposed || !request.isLatest()) return;
      replace(message, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
    schedule();
  }

  function renderRows(jobs) {
    currentJobs = jobs;
    // A selection holds only jobs on the page, so a bulk action never touches a job the operator cannot see.
    const shownIds = new Set(jobs.map((j) => j.job_id));
    for (const id of [...state.selected]) if (!shownIds.has(id)) state.selected.delete(id);
    // Keep keyboard focus on the same control across refreshes.
    const focused = document.activeElement;
    const focusKey = tbody.contains(focused) ? [focused.closest('tr')?.dataset.jobId, focused.dataset.action ?? focused.getAttribute('href')] : null;
    if (jobs.length === 0) {
      replace(tbody, h('tr', null, h('td', { colspan: COLUMNS.length, class: 'muted' }, 'No jobs match these filters.')));
    } else {
      replace(tbody, jobs.map((j) => tableRow(COLUMNS, j, { 'data-job-id': j.job_id, 'data-status': j.status })));
    }
    if (focusKey) {
      const row = tbody.querySelector(`tr[data-job-id="${focusKey[0]}"]`);
      const target = row?.querySelector(`[data-action="${focusKey[1]}"]`) ?? row?.querySelector(`a[href="${focusKey[1]}"]`);
      target?.focus();
    }
    selectionChanged();
  }

  function schedule() {
    clearTimeout(timer);
    if (state.autoRefresh && !disposed) timer = setTimeout(() => (document.hidden ? schedule() : load()), REFRESH_MS);
  }

  // The workflow filter lists the catalog (names of removed workflows can still be typed into the URL state).
  api('/workflows').then(({ data }) => {
    const names = (Array.isArray(data) ? data : data?.workflows ?? []).map((w) => w.name).filter(Boolean).sort();
    if (disposed || names.length === 0) return;
    replace(workflowSelect, [['', 'All workflows'], ...new Set([...names, ...(state.workflow ? [state.workflow] : [])])].map((o) => {
      const [value, label] = Array.isArray(o) ? o : [o, o];
      return h('option', { value }, label);
    }));
    workflowSelect.value = state.workflow;
  }).catch(() => {});

  reload = load;
  syncUrl(false);
  await load();
  return () => {
    disposed = true;
    clearTimeout(timer);
    requests.cancel();
    reload = () => {};
    selectionChanged = () => {};
  };
}
