// Entry point: sign-in, navigation and hash routing. Each view renders into <main> and returns a cleanup function.
import { api, clearKey, getKey, setKey } from './api.js';
import { h, replace, field } from './dom.js';
import { renderJobs } from './views/jobs.js';
import { renderJobDetail } from './views/job-detail.js';
import { renderQueue } from './views/queue.js';
import { renderCosts } from './views/costs.js';
import { renderActivity } from './views/activity.js';
import { renderWorkflows } from './views/workflows.js';
import { renderWebhooks } from './views/webhooks.js';
import { renderWaiting } from './views/waiting.js';
import { renderProviders } from './views/providers.js';
import { renderSchedules } from './views/schedules.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const logout = document.getElementById('logout');

const ROUTES = [
  { pattern: /^#\/jobs\/([0-9a-f-]{36})$/i, view: 'jobs', render: (m) => renderJobDetail(main, m[1]) },
  { pattern: /^#\/jobs(?:\?(.*))?$/, view: 'jobs', render: (m) => renderJobs(main, m[1]) },
  { pattern: /^#\/waiting$/, view: 'waiting', render: () => renderWaiting(main) },
  { pattern: /^#\/schedules$/, view: 'schedules', render: () => renderSchedules(main) },
  { pattern: /^#\/queue$/, view: 'queue', render: () => renderQueue(main) },
  { pattern: /^#\/providers$/, view: 'providers', render: () => renderProviders(main) },
  { pattern: /^#\/costs$/, view: 'costs', render: () => renderCosts(main) },
  { pattern: /^#\/activity$/, view: 'activity', render: () => renderActivity(main) },
  { pattern: /^#\/webhooks$/, view: 'webhooks', render: () => renderWebhooks(main) },
  { pattern: /^#\/workflows(?:\/([^/]+))?$/, view: 'workflows', render: (m) => renderWorkflows(main, m[1] ? decodeURIComponent(m[1]) : null) },
];

let cleanup = null;
let routeCount = 0;

async function route() {
  if (typeof cleanup === 'function') cleanup();
  cleanup = null;

  if (!getKey()) {
    showLogin();
    return;
  }

  nav.hidden = false;
  logout.hidden = false;
  const hash = location.hash || '#/jobs';
  const match = ROUTES.map((r) => ({ r, m: hash.match(r.pattern) })).find((x) => x.m);
  if (!match) {
    location.replace('#/jobs');
    return;
  }

  for (const link of nav.querySelectorAll('a')) {
    if (link.dataset.view === match.r.view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }

  main.replaceChildren();
  main.dataset.view = match.r.view;
  const current = ++routeCount;
  try {
    const result = await match.r.render(match.m);
    if (current !== routeCount) {
      if (typeof result === 'function') result();
      return;
    }
    cleanup = result;
  } catch (error) {
    replace(main, h('p', { class: 'notice error', role: 'alert' }, error.message));
  }

  // Move focus to the new view's heading for keyboard and screen reader users (not on the first load).
  if (routeCount > 1) main.querySelector('h1')?.focus({ preventScroll: false });
}

function showLogin() {
  nav.hidden = true;
  logout.hidden = true;
  main.dataset.view = 'login';
  const input = h('input', { type: 'password', name: 'api-key', autocomplete: 'off', required: true, spellcheck: 'false' });
  const error = h('p', { class: 'notice error', role: 'alert', hidden: true });
  const button = h('button', { type: 'submit', class: 'button' }, 'Sign in');
  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      button.disabled = true;
      error.hidden = true;
      try {
        // An admin route proves the key is an admin key before it is kept.
        await api('/admin/queue', { key });
        setKey(key);
        if (!location.hash || location.hash === '#/login') location.hash = '#/jobs';
        else route();
      } catch (e) {
        error.textContent = e.status === 401 ? 'That key was not accepted.' : e.message;
        error.hidden = false;
        input.focus();
      } finally {
        button.disabled = false;
      }
    },
  },
  field('Admin API key', input, { hint: 'Kept only in this browser tab (sessionStorage) and sent as X-API-Key.' }),
  button, error);
  replace(main, h('section', { class: 'login card', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title', tabindex: '-1' }, 'Sign in'),
    h('p', { class: 'muted' }, 'The dashboard shows every job, the queue and costs, so it needs an admin key.'),
    form));
  input.focus();
}

logout.addEventListener('click', () => {
  clearKey();
  location.hash = '#/login';
  route();
});

window.addEventListener('hashchange', route);
route();
