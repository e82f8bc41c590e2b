// Bulk actions of the jobs list: cancel, retry or delete the selected jobs after a confirmation, then a per-job
// summary of what succeeded and what the API refused and why. Cancel and retry call each job's own route (the same
// tenant-scoped routes and refusal messages as the row buttons); delete uses DELETE /jobs/bulk once.
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { shortId } from '../format.js';

const PARALLEL = 4;

const ACTIONS = {
  cancel: {
    verb: 'Cancel',
    warning: 'Waiting jobs are cancelled at once; running jobs are stopped by their workers. Finished jobs are refused.',
    run: (ids) => perJob(ids, async (id) => {
      const { status, data } = await api(`/workflow/${id}`, { method: 'DELETE' });
      return { ok: true, outcome: status === 202 ? 'stopping' : 'cancelled', detail: data?.message };
    }),
  },
  retry: {
    verb: 'Retry',
    warning: 'Failed and cancelled jobs are queued again and resume from their checkpoints. Other jobs are refused.',
    run: (ids) => perJob(ids, async (id) => {
      const { data } = await api(`/jobs/${id}/retry`, { method: 'POST' });
      return { ok: true, outcome: 'queued', detail: data?.message };
    }),
  },
  delete: {
    verb: 'Delete',
    warning: 'The jobs, their steps and usage rows are deleted for good; running jobs are stopped first.',
    run: async (ids) => {
      const { data } = await api('/jobs/bulk', { method: 'DELETE', body: { job_ids: ids } });
      const deleted = new Set(data.deleted_job_ids);
      return ids.map((id) => (deleted.has(id)
        ? { id, ok: true, outcome: 'deleted', detail: 'Deleted.' }
        : { id, ok: false, outcome: 'not found', detail: 'No such job (already deleted, or not visible to this key).' }));
    },
  },
};

/** Runs call(id) for every id, a few at a time; a refusal (4xx) becomes a result, never a thrown error. */
async function perJob(ids, call) {
  const results = new Array(ids.length);
  let next = 0;
  async function worker() {
    while (next < ids.length) {
      const index = next++;
      const id = ids[index];
      try {
        results[index] = { id, ...(await call(id)) };
      } catch (error) {
        const outcome = error.status === 409 ? 'refused' : error.status === 404 ? 'not found' : 'error';
        results[index] = { id, ok: false, outcome, detail: error.body?.message ?? error.message };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL, ids.length) }, worker));
  return results;
}

/**
 * @param {{state: {selected: Set<string>}, onDone: () => void}} options
 * @returns {{element: HTMLElement, update: (jobs: object[]) => void}}
 */
export function bulkPanel({ state, onDone }) {
  let jobs = [];
  const count = h('span', { 'data-role': 'selected-count', 'aria-live': 'polite' });
  const buttons = Object.entries(ACTIONS).map(([key, action]) => h('button', {
    type: 'button', class: `button small ${key === 'delete' ? 'danger' : 'secondary'}`, 'data-bulk': key, disabled: true,
    onclick: () => confirmAndRun(key),
  }, `${action.verb} selected`));
  const clear = h('button', {
    type: 'button', class: 'button secondary small', 'data-bulk': 'clear', disabled: true,
    onclick: () => { state.selected.clear(); onDone(); },
  }, 'Clear selection');
  const result = h('section', { 'data-role': 'bulk-result', 'aria-live': 'polite' });
  const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'bulk-confirm-title' });
  const element = h('div', { class: 'bulk' },
    h('div', { class: 'toolbar bulk-bar', role: 'group', 'aria-label': 'Bulk actions on selected jobs' }, count, buttons, clear),
    dialog, result);

  function update(current) {
    jobs = current;
    const n = state.selected.size;
    count.textContent = `${n} selected`;
    for (const button of [...buttons, clear]) button.disabled = n === 0;
  }

  function describe(id) {
    const job = jobs.find((j) => j.job_id === id);
    return job ? `${shortId(id)} · ${job.workflow_name} (${job.status})` : shortId(id);
  }

  function confirmAndRun(key) {
    const action = ACTIONS[key];
    const ids = [...state.selected];
    if (ids.length === 0) return;
    const noun = `${ids.length} job${ids.length === 1 ? '' : 's'}`;
    const confirm = h('button', { type: 'button', class: `button ${key === 'delete' ? 'danger' : ''}`, 'data-confirm': key }, `${action.verb} ${noun}`);
    const back = h('button', { type: 'button', class: 'button secondary' }, 'Go back');
    replace(dialog,
      h('h2', { id: 'bulk-confirm-title' }, `${action.verb} ${noun}?`),
      h('p', null, action.warning),
      h('ul', { class: 'bulk-list' }, ids.map((id) => h('li', { class: 'mono small-text' }, describe(id)))),
      h('div', { class: 'actions' }, confirm, back));
    back.addEventListener('click', () => dialog.close());
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      back.disabled = true;
      const labels = new Map(ids.map((id) => [id, describe(id)]));
      let results;
      try {
        results = await action.run(ids);
      } catch (error) {
        results = ids.map((id) => ({ id, ok: false, outcome: 'error', detail: error.body?.message ?? error.message }));
      }
      dialog.close();
      show(action.verb, results, labels);
      state.selected.clear();
      onDone();
    });
    dialog.showModal();
    back.focus();
  }

  function show(verb, results, labels) {
    const ok = results.filter((r) => r.ok).length;
    const refused = results.length - ok;
    replace(result, h('div', { class: 'card bulk-summary', 'data-action': verb.toLowerCase(), 'data-succeeded': String(ok), 'data-refused': String(refused) },
      h('h2', { tabindex: '-1' }, `${verb}: ${ok} succeeded, ${refused} refused`),
      h('div', { class: 'table-wrap' }, h('table', { class: 'responsive' },
        h('thead', null, h('tr', null, ['Job', 'Result', 'Detail'].map((label) => h('th', { scope: 'col' }, label)))),
        h('tbody', null, results.map((r) => h('tr', { 'data-job-id': r.id, 'data-ok': String(r.ok), 'data-outcome': r.outcome },
          h('td', { 'data-label': 'Job' }, h('a', { href: `#/jobs/${r.id}`, class: 'mono' }, labels.get(r.id))),
          h('td', { 'data-label': 'Result' }, h('span', { class: `badge ${r.ok ? 'completed' : 'failed'}` }, r.outcome)),
          h('td', { 'data-label': 'Detail' }, r.detail ?? '')))))),
      h('button', { type: 'button', class: 'button secondary small', onclick: () => replace(result) }, 'Dismiss')));
    result.querySelector('h2')?.focus();
  }

  return { element, update };
}
