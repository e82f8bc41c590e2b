// Jobs: the admin "LLM Queue" list (document 003): status filter, limit results (default 25), search, auto refresh,
// live mini progress for running jobs, cancel and retry from the list.
import { api } from '../api.js';
import { latestRequest } from '../latest.js';
import { h, replace, select, field, toast, tableRow } from '../dom.js';
import { formatCost, formatDate, formatDuration, formatTokens, shortId, ACTIVE } from '../format.js';

export const LIMIT_RESULTS = ['25', '50', '100', '200', 'Today', '7 Days', '30 Days'];
const STATUSES = [['', 'All statuses'], 'pending', 'queued', 'processing', 'completed', 'failed', 'cancelled'];
const REFRESH_MS = 3000;

// Filters survive navigating to a job and back.
const state = { status: '', workflow: '', limitResults: '25', search: '', offset: 0, autoRefresh: true };

export function statusBadge(status) {
  return h('span', { class: `badge ${status}`, 'data-status': status }, status);
}

const COLUMNS = [
  {
    label: 'Status',
    cell: (j) => [statusBadge(j.status), ACTIVE.has(j.status) && j.status === 'processing'
      ? h('div', { class: 'mini-progress' },
        h('progress', { max: 100, value: j.progress_percent ?? 0, 'aria-label': `Progress of job ${shortId(j.job_id)}: ${j.progress_percent ?? 0}%` }),
        h('span', { class: 'step-name', 'data-role': 'current-step' }, `${j.current_step_name ?? 'Starting'} · ${j.progress_percent ?? 0}%`))
      : null],
  },
  {
    label: 'Workflow',
    cell: (j) => [h('a', { href: `#/jobs/${j.job_id}` }, j.workflow_name), h('div', { class: 'muted small-text mono' }, shortId(j.job_id))],
  },
  { label: 'Username', cell: (j) => j.username ?? j.user_id ?? '—' },
  { label: 'Action', cell: (j) => j.action ?? '—' },
  { label: 'Priority', num: true, cell: (j) => String(j.priority) },
  { label: 'Created', cell: (j) => h('time', { datetime: j.created_at }, formatDate(j.created_at)) },
  { label: 'Duration', num: true, cell: (j) => formatDuration(j.duration_ms) },
  { label: 'Tokens', num: true, cell: (j) => formatTokens(j.total_tokens) },
  { label: 'Cost', num: true, cell: (j) => formatCost(j.cost_usd) },
  { label: 'Actions', cell: (j) => rowActions(j) },
];

let reload = () => {};

function rowActions(job) {
  const buttons = [];
  if (ACTIVE.has(job.status)) {
    buttons.push(h('button', {
      type: 'button', class: 'button danger small', 'data-action': 'cancel', 'aria-label': `Cancel job ${shortId(job.job_id)} (${job.workflow_name})`,
      onclick: (e) => act(e.currentTarget, () => api(`/workflow/${job.job_id}`, { method: 'DELETE' })),
    }, 'Cancel'));
  }
  if (job.status === 'failed' || job.status === 'cancelled') {
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

export async function renderJobs(main) {
  let timer = null;
  const requests = latestRequest();
  let disposed = false;

  const statusSelect = select({ name: 'status_filter' }, STATUSES, state.status);
  const limitSelect = select({ name: 'limit_results' }, LIMIT_RESULTS, state.limitResults);
  const workflowSelect = select({ name: 'workflow_name' }, [['', 'All workflows'], ...(state.workflow ? [state.workflow] : [])], state.workflow);
  const search = h('input', { type: 'search', name: 'search', value: state.search, placeholder: 'Job id, username or user id', autocomplete: 'off' });
  const auto = h('input', { type: 'checkbox', name: 'auto_refresh', checked: state.autoRefresh });
  const refresh = h('button', { type: 'button', class: 'button secondary' }, 'Refresh');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite', 'data-role': 'summary' });
  const message = h('div');
  const tbody = h('tbody');
  const tableEl = h('table', { class: 'responsive', 'data-role': 'jobs', 'aria-describedby': 'jobs-summary' },
    h('caption', { class: 'visually-hidden' }, 'Jobs, newest first'),
    h('thead', null, h('tr', null, COLUMNS.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    tbody);
  summary.id = 'jobs-summary';
  const prev = h('button', { type: 'button', class: 'button secondary small', disabled: true }, 'Previous');
  const next = h('button', { type: 'button', class: 'button secondary small', disabled: true }, 'Next');
  const updated = h('span', { class: 'muted small-text' });

  const onFilter = () => {
    state.status = statusSelect.value;
    state.workflow = workflowSelect.value;
    state.limitResults = limitSelect.value;
    state.search = search.value.trim();
    state.offset = 0;
    load();
  };
  statusSelect.addEventListener('change', onFilter);
  workflowSelect.addEventListener('change', onFilter);
  limitSelect.addEventListener('change', onFilter);
  search.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); onFilter(); } });
  search.addEventListener('search', onFilter);
  refresh.addEventListener('click', () => load());
  auto.addEventListener('change', () => { state.autoRefresh = auto.checked; schedule(); });
  prev.addEventListener('click', () => { state.offset = Math.max(0, state.offset - pageSize); load(); });
  next.addEventListener('click', () => { state.offset += pageSize; load(); });

  replace(main,
    h('h1', { tabindex: '-1' }, 'Jobs'),
    h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Filter jobs', onsubmit: (e) => { e.preventDefault(); onFilter(); } },
      field('Status', statusSelect),
      field('Workflow', workflowSelect),
      field('Limit results', limitSelect),
      field('Search', search),
      h('button', { type: 'submit', class: 'button' }, 'Apply'),
      refresh,
      field('Auto refresh', auto, { inline: true })),
    summary, message,
    h('div', { class: 'table-wrap' }, tableEl),
    h('div', { class: 'pager' }, h('div', { class: 'actions' }, prev, next), updated));

  let pageSize = 25;

  function query() {
    const params = new URLSearchParams();
    if (state.status) params.set('status_filter', state.status);
    if (state.limitResults) params.set('limit_results', state.limitResults);
    if (state.workflow) params.set('workflow_name', state.workflow);
    if (state.search) params.set('search', state.search);
    if (state.offset) params.set('offset', String(state.offset));
    return params.toString();
  }

  async function load() {
    clearTimeout(timer);
    const request = requests.begin();
    const q = query();
    try {
      const { data } = await api(`/jobs?${q}`, { signal: request.signal });
      const { jobs, total } = data;
      pageSize = data.limit;
      if (disposed || !request.isLatest()) return;
      renderRows(jobs);
      tableEl.dataset.query = q;
      tableEl.dataset.total = String(total);
      const first = jobs.length ? state.offset + 1 : 0;
      summary.textContent = `Showing ${first}–${state.offset + jobs.length} of ${total} job${total === 1 ? '' : 's'}`;
      prev.disabled = state.offset === 0;
      next.disabled = state.offset + jobs.length >= total;
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      replace(message);
    } catch (error) {
      if (error.name === 'AbortError' || disposed || !request.isLatest()) return;
      replace(message, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
    schedule();
  }

  function renderRows(jobs) {
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
  await load();
  return () => {
    disposed = true;
    clearTimeout(timer);
    requests.cancel();
    reload = () => {};
  };
}
