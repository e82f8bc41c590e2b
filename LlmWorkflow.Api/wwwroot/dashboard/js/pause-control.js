// Pause and resume of a workflow (POST /workflows/{name}/pause and /resume, admin keys): a paused workflow's new and
// queued jobs are accepted and held, costing no worker slot; running jobs finish; a resume queues the held jobs.
import { api } from './api.js';
import { h, replace, field, toast } from './dom.js';
import { formatDate } from './format.js';

/** Pauses the workflow and announces the outcome (or the error) in the toast; null on error. */
export function pauseWorkflow(name, reason) {
  return act(`/workflows/${encodeURIComponent(name)}/pause`, reason ? { reason } : {});
}

/** Resumes the workflow and announces the outcome (or the error) in the toast; null on error. */
export function resumeWorkflow(name) {
  return act(`/workflows/${encodeURIComponent(name)}/resume`, {});
}

async function act(path, body) {
  try {
    const { data } = await api(path, { method: 'POST', body });
    toast(data.message);
    return data;
  } catch (error) {
    toast(error.message);
    return null;
  }
}

/** A card on a workflow's page: whether it is paused (since when, why, how many jobs it holds) and a button to change that. */
export function pauseCard(name) {
  const body = h('div', { 'aria-live': 'polite' });
  const card = h('section', { class: 'card', 'aria-labelledby': 'pause-title', 'data-role': 'pause-card' },
    h('h2', { id: 'pause-title' }, 'Pause'), body);

  async function load() {
    try {
      const { data } = await api('/admin/pauses');
      render(data.paused.find((p) => p.workflow_name === name) ?? null);
    } catch (error) {
      replace(body, h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  }

  function render(pause) {
    card.dataset.paused = String(pause !== null);
    if (pause) {
      replace(body,
        h('p', { class: 'notice warn', 'data-role': 'pause-state' },
          `Paused since ${formatDate(pause.paused_at)}${pause.paused_by ? ` by ${pause.paused_by}` : ''}${pause.reason ? ` — ${pause.reason}` : ''}. `
          + `${pause.held_jobs} job(s) held; new jobs are accepted and wait.`),
        h('button', { type: 'button', class: 'button', 'data-action': 'resume', onclick: async () => { await resumeWorkflow(name); load(); } }, 'Resume'));
      return;
    }
    const reason = h('input', { type: 'text', name: 'reason', maxlength: '500', placeholder: 'e.g. provider outage' });
    replace(body,
      h('p', { class: 'muted', 'data-role': 'pause-state' }, 'Running. Pausing holds new and queued jobs (no worker slot used) and lets running jobs finish.'),
      h('form', {
        class: 'toolbar', 'aria-label': `Pause ${name}`,
        onsubmit: async (event) => { event.preventDefault(); await pauseWorkflow(name, reason.value.trim() || null); load(); },
      }, field('Reason (optional)', reason), h('button', { type: 'submit', class: 'button secondary', 'data-action': 'pause' }, 'Pause')));
  }

  load();
  return card;
}
