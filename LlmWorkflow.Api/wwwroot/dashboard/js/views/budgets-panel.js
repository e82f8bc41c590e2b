// The LLM budgets an operator watches (GET /providers/limits, docs/ADMISSION.md): per provider, model, API key and tenant
// scope the limits against what the current window used, calls in flight, a pause or a 429's block, and the jobs
// parked on it by reason; then each tenant's dollar budgets against their rolling spend. Part of the Providers view.
import { api } from '../api.js';
import { h, replace, table } from '../dom.js';
import { formatCost, formatTokens } from '../format.js';

const REASONS = {
  requests: 'requests', tokens: 'tokens', input_tokens: 'input tokens', output_tokens: 'output tokens',
  concurrency: 'concurrency', rate_limited: '429 block', paused: 'paused', zero_budget: 'zero budget',
  flex_unavailable: 'flex refused', batch: 'parked on a batch', fair_share: 'fair share', user_share: 'user share',
  outage: 'provider out', usd: 'dollars', usd_reserved: 'dollars reserved', priority: 'priority band',
};

export function budgetsPanel() {
  const box = h('div', { 'data-role': 'llm-budgets' });
  const section = h('section', { class: 'card', 'aria-labelledby': 'budgets-title' }, h('h2', { id: 'budgets-title' }, 'LLM budgets'), box);

  async function load(signal, isCurrent) {
    try {
      const { data } = await api('/providers/limits', { signal });
      if (isCurrent()) render(data);
    } catch (error) {
      if (isCurrent() && error.name !== 'AbortError') replace(box, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  }

  function render(data) {
    const rows = scopeRows(data);
    if (rows.length === 0 && data.tenant_spend.length === 0) {
      replace(box, h('p', { class: 'muted', 'data-role': 'no-budgets' },
        'No LLM budget is set and no provider has said its limits yet: each provider\'s limits are learned from its answers (Llm__Limits__<provider>__… sets a ceiling).'));
      return;
    }
    replace(box,
      h('p', { class: 'muted small-text' }, `Used counts the sliding window of ${data.window_seconds} s, shared by every worker.`),
      rows.length ? scopeTable(rows) : null,
      data.tenant_spend.length ? spendTable(data.tenant_spend) : null);
  }

  return { section, load };
}

// One row per configured scope, plus a scope that only has waiting jobs (a user's scope, a removed limit).
function scopeRows(data) {
  const rows = new Map(data.scopes.map((s) => [s.scope, { ...s, waiting: [] }]));
  for (const w of data.waiting) {
    if (!rows.has(w.scope)) rows.set(w.scope, { scope: w.scope, limits: null, used: null, paused: false, blocked_for_ms: 0, tenants: [], waiting: [] });
    rows.get(w.scope).waiting.push(w);
  }
  return [...rows.values()];
}

function scopeTable(rows) {
  // The limit held to: the configured one, or the provider's own where its answers said a lower one (or nothing is configured).
  const against = (used, limit, learned, format = String) => {
    if (used == null) return '—';
    const held = learned != null && (limit == null || learned < limit) ? learned : limit;
    const text = held == null ? format(used) : `${format(used)} / ${format(held)}`;
    return learned != null && held === learned ? h('span', { 'data-role': 'learned', title: limit == null ? 'learned from the provider' : `learned from the provider; configured ${format(limit)}` }, `${text} (learned)`) : text;
  };
  return table({
    caption: 'Budgets per scope: used in the window / limit',
    attrs: { 'data-role': 'budget-scopes' },
    columns: [
      { label: 'Scope', cell: (s) => scopeCell(s) },
      { label: 'Requests', num: true, cell: (s) => h('span', { 'data-role': 'requests' }, against(s.used?.requests, s.limits?.requests_per_minute, s.learned?.requests_per_minute)) },
      { label: 'Tokens', num: true, cell: (s) => h('span', { 'data-role': 'tokens' }, against(s.used && s.used.input_tokens + s.used.output_tokens, s.limits?.tokens_per_minute, s.learned?.tokens_per_minute, formatTokens)) },
      { label: 'Input', num: true, cell: (s) => against(s.used?.input_tokens, s.limits?.input_tokens_per_minute, s.learned?.input_tokens_per_minute, formatTokens) },
      { label: 'Output', num: true, cell: (s) => against(s.used?.output_tokens, s.limits?.output_tokens_per_minute, s.learned?.output_tokens_per_minute, formatTokens) },
      { label: 'In flight', num: true, cell: (s) => against(s.used?.in_flight, s.limits?.concurrent_calls, null) },
      { label: 'State', cell: (s) => h('span', { 'data-role': 'state' }, state(s)) },
      { label: 'Waiting jobs', cell: (s) => h('span', { 'data-role': 'waiting' }, waitingText(s.waiting)) },
      { label: 'Tenants: weight, share, used', cell: (s) => h('span', { 'data-role': 'shares' }, sharesText(s.tenants)) },
    ],
    rows,
    rowAttrs: (s) => ({ 'data-scope': s.scope }),
  });
}

// An API key's scope is a fingerprint: the providers sharing the key say which key it is.
function scopeCell(s) {
  const code = h('code', { class: 'wrap-anywhere' }, s.scope);
  return s.providers?.length ? h('span', {}, code, h('span', { class: 'muted', 'data-role': 'key-providers' }, ` (${s.providers.join(', ')})`)) : code;
}

function state(s) {
  if (s.paused) return 'Paused';
  if (s.blocked_for_ms > 0) return `429: blocked ${Math.ceil(s.blocked_for_ms / 1000)} s`;
  return s.limits ? 'Admitting' : '—';
}

function waitingText(waiting) {
  if (waiting.length === 0) return '—';
  return waiting.map((w) => `${w.jobs} (${REASONS[w.reason] ?? w.reason})`).join(', ');
}

// Each active tenant's weight, its share of the scope while tenants contend for it, and the tokens it used; then its
// waiting users' weights, shares of the tenant's part and tokens, in brackets.
function sharesText(tenants) {
  if (!tenants || tenants.length === 0) return '—';
  return tenants.map((t) => `${t.tenant_id} ×${t.weight} ${Math.round(t.share * 100)} % ${formatTokens(t.used_tokens)}${t.waiting ? ' (waiting)' : ''}${usersText(t.users)}`).join(', ');
}

function usersText(users) {
  if (!users || users.length === 0) return '';
  return ` [${users.map((u) => `${u.user_id === '' ? '(no user)' : u.user_id} ×${u.weight} ${Math.round(u.share * 100)} % ${formatTokens(u.used_tokens)}`).join(', ')}]`;
}

function spendTable(spend) {
  return table({
    caption: "Tenants' dollar budgets over their rolling windows",
    attrs: { 'data-role': 'tenant-spend' },
    columns: [
      { label: 'Tenant', cell: (t) => t.tenant_id },
      { label: 'Budget', cell: (t) => t.budget.budget },
      { label: 'Limit', num: true, cell: (t) => formatCost(t.budget.limit_usd) },
      { label: 'Spent', num: true, cell: (t) => h('span', { 'data-role': 'spent' }, formatCost(t.budget.spent_usd)) },
      { label: 'Reserved', num: true, cell: (t) => formatCost(t.budget.reserved_usd) },
      { label: 'Left', num: true, cell: (t) => h('span', { 'data-role': 'left' }, formatCost(t.budget.remaining_usd)) },
      {
        label: 'Used',
        cell: (t) => h('progress', {
          max: String(t.budget.limit_usd || 1), value: String(Math.min(t.budget.spent_usd + t.budget.reserved_usd, t.budget.limit_usd)),
          'aria-label': `${t.tenant_id} ${t.budget.budget} budget used`,
        }),
      },
    ],
    rows: spend,
    rowAttrs: (t) => ({ 'data-tenant': t.tenant_id, 'data-budget': t.budget.budget }),
  });
}
