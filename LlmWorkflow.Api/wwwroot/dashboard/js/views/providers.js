// Providers: what an operator needs in a provider outage, in one view. Provider health per provider and model (GET
// /admin/providers/health, merged from every live worker's calls of the last minutes, refreshed every 5 s), the LLM
// budgets and tenants' spend (budgets-panel.js, refreshed with it), the paused workflows with Resume (GET
// /admin/pauses), and retry of failed jobs by filter with a dry count first (POST /jobs/retry). Pause itself is on
// each workflow's page and here.
import { api, offers } from '../api.js';
import { budgetsPanel } from './budgets-panel.js';
import { h, replace, field, select, table, toast } from '../dom.js';
import { formatDate, timeCell } from '../format.js';
import { latestRequest } from '../latest.js';
import { pauseWorkflow, resumeWorkflow } from '../pause-control.js';

const REFRESH_MS = 5000;
const CIRCUIT_BADGE = { open: 'failed', half_open: 'queued', closed: 'completed', unknown: 'cancelled' };
const CIRCUIT_TEXT = { open: 'Open — calls refused', half_open: 'Half-open — probing', closed: 'Closed', unknown: 'Closed (no failure yet)' };
const OUTAGE_TEXT = { open: 'Out — its steps wait parked', half_open: 'Probing — one call tries it', closed: 'Answering' };
const WAIT_REASONS = {
  paused: 'paused', outage: 'provider out', tokens: 'tokens', input_tokens: 'input tokens', output_tokens: 'output tokens', requests: 'requests',
  rate_limited: '429: its window is full', concurrency: 'concurrency', fair_share: 'tenant share', user_share: 'user share', flex_unavailable: 'flex refused',
  priority: 'priority band',
};
const percent = (rate) => (rate == null ? '—' : `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`);

export async function renderProviders(main) {
  let disposed = false;
  const requests = latestRequest();
  const budgetRequests = latestRequest();
  const budgets = budgetsPanel();
  const healthBox = h('div', { 'data-role': 'provider-health' });
  const pausesBox = h('div', { 'data-role': 'pauses' });
  const retryBox = h('section', { class: 'card', 'aria-labelledby': 'bulk-retry-title', 'data-role': 'bulk-retry' });
  replace(main,
    h('h1', { tabindex: '-1' }, 'Providers'),
    h('p', { class: 'muted' }, 'LLM provider calls of the last minutes from every live worker, the LLM budgets, the paused workflows, and retry of failed jobs by filter.'),
    h('section', { class: 'card', 'aria-labelledby': 'health-title' }, h('h2', { id: 'health-title' }, 'Provider health'), healthBox),
    budgets.section,
    h('section', { class: 'card', 'aria-labelledby': 'pauses-title' }, h('h2', { id: 'pauses-title' }, 'Paused workflows'), pausesBox),
    retryBox);

  // The providers paused through POST /providers/{name}/pause (GET /providers/limits lists them), for each card's button.
  let pausedProviders = new Set();
  // The jobs parked on each provider (its scope or one of its models'), by reason: why they wait.
  let waitingByProvider = new Map();

  async function loadHealth() {
    const request = requests.begin();
    try {
      const [{ data }, limits] = await Promise.all([
        api('/admin/providers/health', { signal: request.signal }),
        api('/providers/limits', { signal: request.signal }).catch(() => null),
      ]);
      if (disposed || !request.isLatest()) return;
      if (limits) {
        pausedProviders = new Set(limits.data.scopes.filter((s) => s.paused).map((s) => s.scope));
        waitingByProvider = new Map();
        for (const w of limits.data.waiting) {
          if (w.scope.includes(':')) continue; // a tenant's or a key's budget, not one provider's
          const provider = w.scope.split('/')[0];
          if (!waitingByProvider.has(provider)) waitingByProvider.set(provider, []);
          waitingByProvider.get(provider).push(w);
        }
      }
      renderHealth(data);
    } catch (error) {
      if (!disposed && request.isLatest() && error.name !== 'AbortError') replace(healthBox, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  }

  function renderHealth(data) {
    const minutes = Math.round(data.window_seconds / 60);
    // A paused provider, or one jobs wait on, with no call in the window still gets its card (its Resume button, its waiting jobs).
    const shown = new Set(data.providers.map((p) => p.provider));
    const extra = new Set([...pausedProviders, ...waitingByProvider.keys()]);
    const providers = [...data.providers, ...[...extra].filter((name) => !shown.has(name) && !name.includes('/') && !name.includes(':'))
      .map((name) => ({ provider: name, calls: 0, failures: 0, error_rate: null, circuit_state: 'unknown', open_on_workers: [], open_until: null, advice: null, models: [] }))];
    replace(healthBox,
      providers.length === 0
        ? h('p', { class: 'muted', 'data-role': 'no-calls' }, `No LLM calls in the last ${minutes} minutes (${data.workers.length} worker(s) reporting).`)
        : h('p', { class: 'muted small-text' }, `Last ${minutes} minutes, ${data.workers.length} worker(s): ${data.workers.join(', ')}. Updated ${formatDate(data.generated_at)}.`),
      providers.map(providerCard),
      pauseProviderForm(shown));
  }

  // Pause any provider by name (one with no call yet has no card): its steps wait parked until it is resumed.
  function pauseProviderForm(shown) {
    const name = h('input', { type: 'text', name: 'pause-provider', placeholder: 'openai', spellcheck: 'false', required: true });
    return h('form', {
      class: 'toolbar', 'aria-label': 'Pause a provider', 'data-role': 'pause-provider-form',
      onsubmit: async (event) => {
        event.preventDefault();
        if (name.value.trim()) await setProviderPaused(name.value.trim().toLowerCase(), true);
      },
    }, field(shown.size ? 'Another provider' : 'Provider', name), h('button', { type: 'submit', class: 'button secondary' }, 'Pause provider'));
  }

  async function setProviderPaused(provider, paused) {
    try {
      await api(`/providers/${encodeURIComponent(provider)}/${paused ? 'pause' : 'resume'}`, { method: 'POST' });
      toast(paused ? `${provider} paused: its steps wait parked.` : `${provider} resumed: its waiting steps are woken.`);
    } catch (error) {
      toast(error.message);
    }
    await Promise.all([loadHealth(), loadBudgets()]);
  }

  function providerCard(p) {
    const id = `provider-${p.provider.replace(/[^a-z0-9_-]/gi, '-')}`;
    return h('section', { class: 'attempt', 'aria-labelledby': id, 'data-provider': p.provider, 'data-circuit': p.circuit_state },
      h('h3', { id }, p.provider, ' ', h('span', { class: `badge ${CIRCUIT_BADGE[p.circuit_state] ?? 'cancelled'}`, 'data-role': 'circuit' },
        `Circuit: ${CIRCUIT_TEXT[p.circuit_state] ?? p.circuit_state}`),
        pausedProviders.has(p.provider) ? h('span', { class: 'badge queued', 'data-role': 'provider-paused' }, 'Paused') : null),
      h('div', { class: 'toolbar' }, pausedProviders.has(p.provider)
        ? h('button', { type: 'button', class: 'button small', 'data-action': 'resume-provider', 'aria-label': `Resume provider ${p.provider}`, onclick: () => setProviderPaused(p.provider, false) }, 'Resume provider')
        : h('button', { type: 'button', class: 'button secondary small', 'data-action': 'pause-provider', 'aria-label': `Pause provider ${p.provider}`, onclick: () => setProviderPaused(p.provider, true) }, 'Pause provider')),
      h('dl', { class: 'facts' },
        fact('Calls', String(p.calls), 'calls'),
        fact('Failed', String(p.failures), 'failures'),
        fact('Error rate', percent(p.error_rate), 'error-rate'),
        waitingByProvider.has(p.provider) ? fact('Waiting jobs', waitingByProvider.get(p.provider)
          .map((w) => `${w.jobs} (${WAIT_REASONS[w.reason] ?? w.reason}${w.scope.includes('/') ? ` on ${w.scope}` : ''})`).join(', '), 'waiting-jobs') : null,
        p.outage && p.outage.state !== 'closed' ? fact('Outage', `${OUTAGE_TEXT[p.outage.state] ?? p.outage.state} since ${formatDate(p.outage.opened_at)} (${p.outage.consecutive_failures} failures in a row)`, 'outage') : null,
        p.open_on_workers.length ? fact('Open on', p.open_on_workers.join(', '), 'open-on') : null,
        p.open_until ? fact('Probes again at', formatDate(p.open_until), 'open-until') : null),
      p.advice ? h('p', { class: 'notice warn', 'data-role': 'advice' }, h('strong', null, 'What to do: '), p.advice) : null,
      table({
        caption: `Models of ${p.provider}`,
        attrs: { 'data-role': 'models' },
        columns: [
          { label: 'Model', cell: (m) => h('code', { class: 'wrap-anywhere' }, m.model) },
          { label: 'Calls', num: true, cell: (m) => String(m.calls) },
          { label: 'Failed', num: true, cell: (m) => String(m.failures) },
          { label: 'Error rate', num: true, cell: (m) => h('span', { 'data-role': 'model-error-rate' }, percent(m.error_rate)) },
          { label: 'Failures by type', cell: (m) => Object.entries(m.failures_by_type).map(([type, n]) => `${type} × ${n}`).join(', ') || '—' },
          { label: 'Last answer', cell: (m) => (m.last_answered_at ? formatDate(m.last_answered_at) : '—') },
        ],
        rows: p.models,
        rowAttrs: (m) => ({ 'data-model': m.model }),
      }),
      lastErrors(p),
      p.failures > 0
        ? h('button', { type: 'button', class: 'button secondary small', 'data-action': 'retry-provider', onclick: () => prefill({ provider: p.provider }) },
          `Retry jobs that failed on ${p.provider}…`)
        : null);
  }

  function lastErrors(p) {
    const errors = p.models.flatMap((m) => m.last_errors.map((e) => ({ ...e, model: m.model })))
      .sort((a, b) => (a.at < b.at ? 1 : -1)).slice(0, 5);
    if (errors.length === 0) return null;
    return h('details', { class: 'chart-table', 'data-role': 'last-errors' }, h('summary', null, `Last errors (${errors.length})`),
      h('ul', null, errors.map((e) => h('li', { 'data-error-type': e.type },
        h('time', { datetime: e.at }, formatDate(e.at)), ` — ${e.model}: `, h('code', null, e.type),
        e.http_status ? ` (HTTP ${e.http_status})` : '', ` — ${e.message} (worker ${e.worker_id})`))));
  }

  async function loadPauses() {
    try {
      const [{ data }, workflows] = await Promise.all([api('/admin/pauses'), workflowNames()]);
      if (disposed) return;
      renderPauses(data.paused, workflows);
    } catch (error) {
      if (!disposed) replace(pausesBox, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  }

  function renderPauses(paused, workflows) {
    const pausedNames = new Set(paused.map((p) => p.workflow_name));
    const choices = workflows.filter((name) => !pausedNames.has(name));
    const workflowSelect = select({ name: 'pause-workflow' }, choices, choices[0]);
    const reason = h('input', { type: 'text', name: 'pause-reason', maxlength: '500', placeholder: 'e.g. OpenRouter outage' });
    const form = h('form', {
      class: 'toolbar', 'aria-label': 'Pause a workflow', 'data-role': 'pause-form',
      onsubmit: async (event) => {
        event.preventDefault();
        if (!workflowSelect.value) return;
        await pauseWorkflow(workflowSelect.value, reason.value.trim() || null);
        loadPauses();
      },
    }, field('Workflow', workflowSelect), field('Reason', reason), h('button', { type: 'submit', class: 'button secondary', disabled: choices.length === 0 }, 'Pause'));
    replace(pausesBox,
      paused.length === 0
        ? h('p', { class: 'muted', 'data-role': 'none-paused' }, 'No workflow is paused.')
        : table({
          caption: 'Paused workflows: new jobs are accepted and held; running jobs finish',
          attrs: { 'data-role': 'paused-table' },
          columns: [
            { label: 'Workflow', cell: (p) => h('a', { href: `#/workflows/${encodeURIComponent(p.workflow_name)}` }, p.workflow_name) },
            { label: 'Paused', cell: (p) => timeCell(h, p.paused_at) },
            { label: 'By', cell: (p) => p.paused_by ?? '—' },
            { label: 'Reason', cell: (p) => p.reason ?? '—' },
            { label: 'Held jobs', num: true, cell: (p) => h('span', { 'data-role': 'held' }, String(p.held_jobs)) },
            {
              label: 'Action',
              cell: (p) => h('button', {
                type: 'button', class: 'button small', 'data-action': 'resume', 'aria-label': `Resume ${p.workflow_name}`,
                onclick: async () => { await resumeWorkflow(p.workflow_name); loadPauses(); },
              }, 'Resume'),
            },
          ],
          rows: paused,
          rowAttrs: (p) => ({ 'data-workflow': p.workflow_name }),
        }),
      form);
  }

  // Bulk retry by filter: a count first (dry_run), then a confirmation naming that count.
  const filterFields = {
    status: select({ name: 'status' }, [['failed', 'Failed'], ['cancelled', 'Cancelled'], ['failed,cancelled', 'Failed or cancelled']], 'failed'),
    error_type: h('input', { type: 'text', name: 'error_type', placeholder: 'provider_unavailable', spellcheck: 'false' }),
    error_category: select({ name: 'error_category' }, [['', 'Any'], 'EXTERNAL_ERROR', 'CONFIG_ERROR', 'USER_ERROR', 'SYSTEM_ERROR'], ''),
    workflow_name: h('input', { type: 'text', name: 'workflow_name', spellcheck: 'false' }),
    provider: h('input', { type: 'text', name: 'provider', placeholder: 'openrouter', spellcheck: 'false' }),
    since: h('input', { type: 'datetime-local', name: 'since' }),
    until: h('input', { type: 'datetime-local', name: 'until' }),
  };
  const retryResult = h('div', { 'aria-live': 'polite', 'data-role': 'bulk-retry-result' });
  const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'retry-confirm-title', 'data-role': 'retry-confirm' });
  replace(retryBox,
    h('h2', { id: 'bulk-retry-title' }, 'Retry failed jobs by filter'),
    h('p', { class: 'muted' }, 'Every field given narrows the match. Count first; the retry asks you to confirm that number. Each job resumes from its checkpoints.'),
    h('form', { class: 'toolbar', 'aria-label': 'Retry filter', onsubmit: (e) => { e.preventDefault(); count(); } },
      field('Status', filterFields.status), field('Error type', filterFields.error_type), field('Error category', filterFields.error_category),
      field('Workflow', filterFields.workflow_name), field('Provider', filterFields.provider),
      field('Ended since (local time)', filterFields.since), field('Ended before (local time)', filterFields.until),
      h('button', { type: 'submit', class: 'button secondary', 'data-action': 'count' }, 'Count matching jobs')),
    retryResult, dialog);

  function prefill(values) {
    for (const [key, value] of Object.entries(values)) filterFields[key].value = value;
    filterFields.status.value = 'failed';
    retryBox.scrollIntoView({ block: 'start' });
    filterFields.error_type.focus();
  }

  function filter() {
    const f = { status: filterFields.status.value.split(',') };
    for (const key of ['error_type', 'error_category', 'workflow_name', 'provider']) {
      const value = filterFields[key].value.trim();
      if (value) f[key] = value;
    }
    for (const key of ['since', 'until']) {
      if (filterFields[key].value) f[key] = new Date(filterFields[key].value).toISOString();
    }
    return f;
  }

  async function count() {
    const f = filter();
    try {
      const { data } = await api('/jobs/retry', { method: 'POST', body: { filter: f, dry_run: true } });
      const retry = h('button', { type: 'button', class: 'button', 'data-action': 'retry-matching', disabled: data.matched === 0, onclick: () => confirmRetry(f, data.matched) },
        `Retry ${Math.min(data.matched, data.max_jobs)} job(s)…`);
      replace(retryResult, h('p', { 'data-role': 'matched', 'data-count': String(data.matched) },
        data.matched === 0 ? 'No job matches this filter.' : `${data.matched} job(s) match${data.matched > data.max_jobs ? ` (one retry queues ${data.max_jobs}; repeat for the rest)` : ''}.`),
      data.matched > 0 ? retry : null);
    } catch (error) {
      replace(retryResult, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  }

  function confirmRetry(f, matched) {
    const n = Math.min(matched, 1000);
    const confirm = h('button', { type: 'button', class: 'button', 'data-confirm': 'retry' }, `Retry ${n} job(s)`);
    const back = h('button', { type: 'button', class: 'button secondary' }, 'Back');
    replace(dialog,
      h('h2', { id: 'retry-confirm-title' }, `Retry ${n} job(s)?`),
      h('p', null, `${n} job(s) matching the filter are queued again; each resumes from its checkpoints.`),
      h('div', { class: 'actions' }, confirm, back));
    back.addEventListener('click', () => dialog.close());
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      try {
        const { data } = await api('/jobs/retry', { method: 'POST', body: { filter: f, dry_run: false } });
        dialog.close();
        replace(retryResult, h('p', { class: 'notice', 'data-role': 'retried', 'data-count': String(data.retried) },
          `${data.retried} job(s) queued again${data.skipped ? `, ${data.skipped} skipped (they changed state meanwhile)` : ''}.`));
        toast(`${data.retried} job(s) queued again.`);
      } catch (error) {
        dialog.close();
        replace(retryResult, h('p', { class: 'notice error', role: 'alert' }, error.message));
      }
    });
    dialog.showModal();
    confirm.focus();
  }

  function loadBudgets() {
    const request = budgetRequests.begin();
    return budgets.load(request.signal, () => !disposed && request.isLatest());
  }

  await Promise.all([loadHealth(), loadBudgets(), loadPauses()]);
  const timer = setInterval(() => { if (!document.hidden) { loadHealth(); loadBudgets(); } }, REFRESH_MS);
  return () => { disposed = true; clearInterval(timer); requests.cancel(); budgetRequests.cancel(); };
}

async function workflowNames() {
  if (!(await offers('GET', '/workflows'))) return [];
  const { data } = await api('/workflows');
  const items = Array.isArray(data) ? data : data?.workflows ?? data?.items ?? [];
  return items.map((w) => w.name).sort();
}

function fact(label, value, role) {
  return [h('dt', null, label), h('dd', { 'data-role': role }, value)];
}
