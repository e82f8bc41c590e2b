// Costs: spend and tokens by day, model, workflow, user and tenant over a chosen period (GET /admin/usage). Every figure links
// to the jobs behind it: the jobs list filtered to the LLM calls the figure sums (model/user/workflow, usage period).
import { api } from '../api.js';
import { h, replace, select, field, table } from '../dom.js';
import { tenantField, tenantState, withTenant, tenantList } from '../tenant.js';
import { formatCost, formatTokens } from '../format.js';
import { barChart } from '../charts.js';
import { latestRequest } from '../latest.js';

const PERIODS = [['today', 'Today (UTC)'], ['1', 'Last 24 hours'], ['7', 'Last 7 days'], ['30', 'Last 30 days'], ['90', 'Last 90 days'], ['365', 'Last 365 days'], ['custom', 'Custom range']];
const state = { period: '30', metric: 'cost', from: '', to: '' };

export async function renderCosts(main) {
  let disposed = false;
  const period = select({ name: 'period' }, PERIODS, state.period);
  const from = h('input', { type: 'date', name: 'from', value: state.from });
  const to = h('input', { type: 'date', name: 'to', value: state.to });
  const custom = h('div', { class: 'toolbar', hidden: state.period !== 'custom' }, field('From (UTC)', from), field('To (UTC, inclusive)', to));
  const metric = select({ name: 'metric' }, [['cost', 'Spend (USD)'], ['tokens', 'Tokens']], state.metric);
  const content = h('div');
  const message = h('div');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  let report = null;
  const requests = latestRequest();

  period.addEventListener('change', () => {
    state.period = period.value;
    custom.hidden = state.period !== 'custom';
    if (state.period !== 'custom') load();
  });
  for (const input of [from, to]) input.addEventListener('change', () => { state.from = from.value; state.to = to.value; if (from.value && to.value) load(); });
  metric.addEventListener('change', () => { state.metric = metric.value; if (report) render(report); });

  replace(main,
    h('h1', { tabindex: '-1' }, 'Costs'),
    h('form', { class: 'toolbar', 'aria-label': 'Usage report period', onsubmit: (e) => { e.preventDefault(); load(); } },
      field('Period', period), field('Chart', metric), tenantField(() => load()), h('button', { type: 'submit', class: 'button secondary' }, 'Refresh')),
    custom, summary, message, content);

  function query() {
    let q;
    if (state.period === 'today') {
      // From today's UTC midnight to now: the day's spend so far, as the by-day table's last row counts it.
      const midnight = new Date();
      midnight.setUTCHours(0, 0, 0, 0);
      q = `from=${encodeURIComponent(midnight.toISOString())}&to=${encodeURIComponent(new Date().toISOString())}`;
    } else if (state.period === 'custom' && state.from && state.to) {
      const end = new Date(`${state.to}T00:00:00Z`);
      end.setUTCDate(end.getUTCDate() + 1);
      q = `from=${encodeURIComponent(`${state.from}T00:00:00Z`)}&to=${encodeURIComponent(end.toISOString())}`;
    } else {
      q = `days=${state.period === 'custom' ? '30' : state.period}`;
    }
    const tenant = withTenant(new URLSearchParams()).toString();
    return tenant ? `${q}&${tenant}` : q;
  }

  /** The jobs-list link of one figure: the report's period (or the day), the tenant, and the group's own filter. */
  function jobsLink(r, key, row) {
    const params = withTenant(new URLSearchParams());
    let from = r.from;
    let to = r.to;
    if (key === 'by_tenant') { if (row.key === '(other tenants)') return null; params.set('tenant_id', row.key); }
    else if (key === 'by_model') params.set('model', row.key);
    else if (key === 'by_workflow') { if (row.key === '(no job)') return null; params.set('workflow_name', row.key); }
    else if (key === 'by_user') {
      if (row.user_id) params.set('user_id', row.user_id);
      else if (row.username) params.set('username', row.username);
      else return null;
    } else if (key === 'by_day') {
      const dayStart = new Date(`${row.key}T00:00:00Z`);
      const dayEnd = new Date(dayStart.getTime() + 86_400_000);
      from = new Date(Math.max(dayStart.getTime(), new Date(r.from).getTime())).toISOString();
      to = new Date(Math.min(dayEnd.getTime(), new Date(r.to).getTime())).toISOString();
    }
    params.set('usage_from', from);
    params.set('usage_to', to);
    return `#/jobs?${params}`;
  }

  function label(key, row) {
    if (key !== 'by_user') return row.key;
    // The report lists the 100 most expensive users and sums the rest in one "(others)" group (no user id or name).
    if (row.key === '(others)' && !row.user_id && !row.username) return '(other users)';
    return row.username ?? row.user_id ?? '(no user)';
  }

  async function load() {
    const q = query();
    const request = requests.begin();
    try {
      const { data } = await api(`/admin/usage?${q}`, { signal: request.signal });
      if (disposed || !request.isLatest()) return;
      const tenants = await tenantRows(q, data, request);
      if (disposed || !request.isLatest()) return;
      report = { ...data, by_tenant: tenants };
      content.dataset.query = q;
      replace(message);
      render(report);
    } catch (error) {
      if (!disposed && request.isLatest()) replace(message, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  }

  function render(r) {
    const t = r.total;
    summary.textContent = `${new Date(r.from).toLocaleString()} – ${new Date(r.to).toLocaleString()}`;
    replace(content,
      h('div', { class: 'stats', 'data-role': 'totals' },
        stat('Spend', formatCost(t.cost_usd), 'cost_usd', t.cost_usd, jobsLink(r, 'total', t)),
        stat('LLM calls', formatTokens(t.calls), 'calls', t.calls),
        stat('Input tokens', formatTokens(t.input_tokens), 'input_tokens', t.input_tokens),
        stat('Output tokens', formatTokens(t.output_tokens), 'output_tokens', t.output_tokens),
        stat('Total tokens', formatTokens(t.total_tokens), 'total_tokens', t.total_tokens),
        // Deleting a job keeps its spend: the figures above include it, this says how much of them it is.
        stat('Of which deleted jobs', `${formatCost(t.deleted_job_cost_usd ?? 0)} (${formatTokens(t.deleted_job_calls ?? 0)} calls)`,
          'deleted_job_cost_usd', t.deleted_job_cost_usd ?? 0)),
      h('p', { class: 'muted', 'data-role': 'counts' }, r.counts ?? ''),
      h('div', { class: 'grid-2' },
        group(r, 'By day', 'by_day', r.by_day),
        group(r, 'By model', 'by_model', r.by_model),
        group(r, 'By workflow', 'by_workflow', r.by_workflow),
        group(r, 'By user', 'by_user', r.by_user),
        group(r, 'By tenant', 'by_tenant', r.by_tenant)));
  }

  /**
   * The by-tenant rows of the period: the same report asked once per tenant with jobs (GET /admin/tenants), most
   * expensive first, and "(other tenants)" for the rest of the total (tenants whose jobs were all deleted). With a
   * tenant chosen, that tenant's row is the report itself.
   */
  async function tenantRows(q, all, request) {
    const row = (key, t) => ({ key, calls: t.calls, input_tokens: t.input_tokens, output_tokens: t.output_tokens, total_tokens: t.total_tokens, cost_usd: t.cost_usd });
    if (tenantState.tenant) return all.total.calls ? [row(tenantState.tenant, all.total)] : [];
    const names = (await tenantList()).map((t) => t.tenant_id);
    const base = q.split('&').filter((p) => !p.startsWith('tenant_id=')).join('&');
    const reports = await Promise.all(names.map((name) =>
      api(`/admin/usage?${base}&tenant_id=${encodeURIComponent(name)}`, { signal: request.signal }).then(({ data }) => row(name, data.total))));
    const rows = reports.filter((r) => r.calls !== 0).sort((a, b) => Number(b.cost_usd) - Number(a.cost_usd) || a.key.localeCompare(b.key));
    const rest = ['calls', 'input_tokens', 'output_tokens', 'total_tokens', 'cost_usd']
      .reduce((o, k) => ({ ...o, [k]: Number(all.total[k]) - rows.reduce((sum, r) => sum + Number(r[k]), 0) }), {});
    if (rest.calls > 0) rows.push({ key: '(other tenants)', ...rest, cost_usd: Math.round(rest.cost_usd * 1e6) / 1e6 });
    return rows;
  }

  function stat(name, display, key, value, href) {
    return h('div', { class: 'stat', 'data-total': key, 'data-value': String(value) },
      h('div', { class: 'value' }, href ? h('a', { href, 'data-role': 'jobs-link', 'aria-label': `${name} ${display}: show its jobs` }, display) : display),
      h('div', { class: 'label' }, name));
  }

  function group(r, title, key, rows) {
    const id = `costs-${key}`;
    const cost = state.metric === 'cost';
    return h('section', { class: 'card', 'aria-labelledby': id, 'data-group': key },
      h('h2', { id }, title),
      rows.length === 0
        ? h('p', { class: 'muted' }, 'No LLM usage in this period.')
        : [
          barChart(rows.map((row) => ({
            label: label(key, row),
            value: cost ? Number(row.cost_usd) : row.total_tokens,
            display: cost ? formatCost(row.cost_usd) : formatTokens(row.total_tokens),
          })), `${cost ? 'Spend' : 'Tokens'} ${title.toLowerCase()}`),
          table({
            columns: [
              { label: key === 'by_day' ? 'Day (UTC)' : title.replace('By ', '').replace(/^./, (c) => c.toUpperCase()), cell: (row) => groupCell(r, key, row) },
              { label: 'Calls', num: true, cell: (row) => figure(r, key, row, formatTokens(row.calls), 'LLM calls') },
              { label: 'Input tokens', num: true, cell: (row) => formatTokens(row.input_tokens) },
              { label: 'Output tokens', num: true, cell: (row) => formatTokens(row.output_tokens) },
              { label: 'Cost', num: true, cell: (row) => figure(r, key, row, formatCost(row.cost_usd), 'Cost') },
            ],
            rows,
            rowAttrs: (row) => ({ 'data-key': row.key }),
          }),
        ]);
  }

  // The group's name links to its jobs; a user shows the username with the user id beneath when they differ.
  function groupCell(r, key, row) {
    const href = jobsLink(r, key, row);
    const name = label(key, row);
    const link = href ? h('a', { href, 'data-role': 'jobs-link' }, name) : name;
    return key === 'by_user' && row.user_id && row.username && row.user_id !== row.username
      ? [link, h('div', { class: 'muted small-text mono' }, row.user_id)]
      : link;
  }

  function figure(r, key, row, display, what) {
    const href = jobsLink(r, key, row);
    return href ? h('a', { href, 'data-role': 'jobs-link', 'aria-label': `${what} ${display} for ${label(key, row)}: show its jobs` }, display) : display;
  }

  await load();
  return () => { disposed = true; requests.cancel(); };
}
