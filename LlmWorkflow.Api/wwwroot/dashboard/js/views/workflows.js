// Workflows: catalog, one workflow's steps, diagram and input schema, and a form for a dry run or a real submission.
import { api, offers } from '../api.js';
import { h, replace, field, table, toast } from '../dom.js';
import { formatCost, formatJson } from '../format.js';
import { renderDiagram, mermaidFromSteps } from '../diagram.js';
import { latestRequest } from '../latest.js';
import { pauseCard } from '../pause-control.js';

export async function renderWorkflows(main, name) {
  return name ? renderWorkflow(main, name) : renderCatalog(main);
}

async function renderCatalog(main) {
  const content = h('div');
  replace(main, h('h1', { tabindex: '-1' }, 'Workflows'), content, submitSection(null, null));
  if (!(await offers('GET', '/workflows'))) {
    replace(content, h('p', { class: 'notice warn', 'data-role': 'unavailable' },
      'This API does not offer the workflow catalog yet (GET /api/v1/workflows). You can still submit a workflow by name below.'));
    return () => {};
  }
  try {
    const { data } = await api('/workflows');
    const items = Array.isArray(data) ? data : data?.workflows ?? data?.items ?? [];
    if (items.length === 0) {
      replace(content, h('p', { class: 'muted' }, 'No workflows are defined.'));
      return () => {};
    }
    replace(content, h('ul', { class: 'cards', 'data-role': 'catalog' }, items.map((w) => {
      const stepCount = Array.isArray(w.steps) ? w.steps.length : w.step_count ?? w.steps;
      return h('li', { 'data-workflow': w.name },
        h('h2', { style: 'margin-top:0' }, h('a', { href: `#/workflows/${encodeURIComponent(w.name)}` }, w.name)),
        h('p', { class: 'muted small-text' }, [w.version ? `v${w.version}` : null, stepCount != null ? `${stepCount} steps` : null].filter(Boolean).join(' · ')),
        w.description ? h('p', null, w.description) : null);
    })));
  } catch (error) {
    replace(content, h('p', { class: 'notice error', role: 'alert' }, error.message));
  }
  return () => {};
}

async function renderWorkflow(main, name) {
  const content = h('div');
  replace(main, h('p', null, h('a', { href: '#/workflows' }, '← All workflows')), h('h1', { tabindex: '-1' }, name), content);
  let definition = null;
  if (await offers('GET', '/workflows/{}')) {
    try {
      const { data } = await api(`/workflows/${encodeURIComponent(name)}`);
      definition = data?.definition ?? data;
    } catch (error) {
      content.append(h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  } else {
    content.append(h('p', { class: 'notice warn' }, 'This API does not offer workflow definitions yet (GET /api/v1/workflows/{name}).'));
  }

  const steps = definition?.steps ?? [];
  if (definition) {
    content.append(
      definition.description ? h('p', null, definition.description) : '',
      h('section', { class: 'card', 'aria-labelledby': 'steps-title' }, h('h2', { id: 'steps-title' }, 'Steps'),
        table({
          attrs: { 'data-role': 'steps' },
          columns: [
            { label: 'Step', cell: (st) => h('code', null, st.id) },
            { label: 'Name', cell: (st) => st.display_name ?? '—' },
            { label: 'Type', cell: (st) => st.type },
            { label: 'Model', cell: (st) => { const m = st.config?.model; return Array.isArray(m) ? m.join(' → ') : m ?? '—'; } },
            { label: 'On error', cell: (st) => (st.on_error == null ? 'fail' : typeof st.on_error === 'object' ? st.on_error.mode ?? formatJson(st.on_error) : st.on_error) },
          ],
          rows: steps,
        })));
  }

  const diagramBox = h('section', { class: 'card', 'aria-labelledby': 'diagram-title' }, h('h2', { id: 'diagram-title' }, 'Diagram'));
  if (definition && (await offers('POST', '/workflows/{}/pause'))) content.append(pauseCard(name));
  content.append(diagramBox);
  let mermaid = null;
  let note = null;
  if (await offers('GET', '/workflows/{}/diagram')) {
    try {
      const { data } = await api(`/workflows/${encodeURIComponent(name)}/diagram`);
      mermaid = typeof data === 'string' ? data : data?.mermaid ?? data?.diagram ?? null;
    } catch (error) {
      note = error.message;
    }
  } else {
    note = `The API does not offer diagrams yet (GET /api/v1/workflows/{name}/diagram)${steps.length ? '; this one is drawn from the step list' : ''}.`;
  }
  if (!mermaid && steps.length) mermaid = mermaidFromSteps(steps);
  if (note) diagramBox.append(h('p', { class: 'muted small-text' }, note));
  if (mermaid) {
    diagramBox.append(renderDiagram(mermaid, `Flow of ${name}`),
      h('details', null, h('summary', null, 'Mermaid source'), h('pre', { class: 'json' }, mermaid)));
  } else {
    diagramBox.append(h('p', { class: 'muted' }, 'No diagram available.'));
  }

  if (definition?.input_schema) {
    content.append(h('section', { class: 'card', 'aria-labelledby': 'schema-title' }, h('h2', { id: 'schema-title' }, 'Input schema'),
      h('pre', { class: 'json', tabindex: '0' }, formatJson(definition.input_schema))));
  }
  content.append(submitSection(name, definition?.input_schema));
  return () => {};
}

/** Inputs generated from the input schema's top-level properties, with a raw JSON editor for anything else. */
function submitSection(name, schema) {
  const result = h('div', { 'aria-live': 'polite' });
  const nameInput = h('input', { type: 'text', name: 'workflow_name', value: name ?? '', required: true, autocomplete: 'off' });
  const props = schema?.properties ?? {};
  const required = new Set(schema?.required ?? []);
  const controls = Object.entries(props).map(([key, prop]) => [key, prop, controlFor(key, prop, required.has(key))]);
  const raw = h('textarea', { name: 'input_json', spellcheck: 'false' }, '{}');
  const username = h('input', { type: 'text', name: 'username', value: 'dashboard', autocomplete: 'off' });
  const priority = h('input', { type: 'number', name: 'priority', min: 0, max: 10, value: 0, style: 'width:6rem' });

  const inputData = () => {
    let data = {};
    try { data = JSON.parse(raw.value || '{}'); } catch { throw new Error('Extra input is not valid JSON.'); }
    for (const [key, prop, control] of controls) {
      const value = readControl(prop, control);
      if (value !== undefined) data[key] = value;
    }
    return data;
  };

  const validateButton = h('button', { type: 'button', class: 'button secondary', 'data-action': 'dry-run' }, 'Dry run (plan and cost estimate)');
  const submitButton = h('button', { type: 'submit', class: 'button', 'data-action': 'submit' }, 'Submit job');

  const dryRuns = latestRequest();
  validateButton.addEventListener('click', async () => {
    if (!(await offers('POST', '/workflow/validate'))) {
      replace(result, h('p', { class: 'notice warn' }, 'This API does not offer dry runs yet (POST /api/v1/workflow/validate).'));
      return;
    }
    // A second dry run started before the first answered replaces it.
    const request = dryRuns.begin();
    try {
      const { data } = await api('/workflow/validate', { method: 'POST', body: { workflow_name: nameInput.value.trim(), input_data: inputData() }, signal: request.signal });
      if (request.isLatest()) replace(result, renderValidation(data));
    } catch (error) {
      if (!request.isLatest()) return;
      replace(result, error.body && typeof error.body === 'object' ? renderValidation(error.body) : h('p', { class: 'notice error', role: 'alert' }, error.message));
    }
  });

  const form = h('form', {
    'aria-labelledby': 'run-title',
    onsubmit: async (event) => {
      event.preventDefault();
      submitButton.disabled = true;
      try {
        const { data } = await api('/workflow', {
          method: 'POST',
          body: { workflow_name: nameInput.value.trim(), input_data: inputData(), username: username.value || undefined, action: 'dashboard run', priority: Number(priority.value || 0) },
        });
        toast(`Job ${data.job_id} queued.`);
        location.hash = `#/jobs/${data.job_id}`;
      } catch (error) {
        replace(result, h('p', { class: 'notice error', role: 'alert' }, error.message));
      } finally {
        submitButton.disabled = false;
      }
    },
  },
  name ? null : field('Workflow name', nameInput),
  controls.length ? h('fieldset', null, h('legend', null, 'Input'), controls.map(([, , c]) => c.wrapper)) : null,
  field(controls.length ? 'Extra input (JSON, merged)' : 'Input (JSON)', raw),
  h('div', { class: 'toolbar' }, field('Username', username), field('Priority (0-10)', priority)),
  h('div', { class: 'actions' }, validateButton, submitButton));

  return h('section', { class: 'card', 'aria-labelledby': 'run-title' }, h('h2', { id: 'run-title' }, name ? 'Run this workflow' : 'Submit a workflow'), form, result);
}

function controlFor(key, prop, isRequired) {
  const label = `${key}${isRequired ? ' (required)' : ''}`;
  const hint = prop.description;
  let input;
  if (Array.isArray(prop.enum)) {
    input = h('select', { name: key }, isRequired ? null : h('option', { value: '' }, '—'), prop.enum.map((v) => h('option', { value: String(v) }, String(v))));
  } else if (prop.type === 'boolean') {
    input = h('input', { type: 'checkbox', name: key, checked: prop.default === true });
    return { input, wrapper: field(label, input, { inline: true, hint }) };
  } else if (prop.type === 'integer' || prop.type === 'number') {
    input = h('input', { type: 'number', name: key, step: prop.type === 'integer' ? '1' : 'any', value: prop.default ?? '' });
  } else if (prop.type === 'object' || prop.type === 'array') {
    input = h('textarea', { name: key, spellcheck: 'false' }, prop.default === undefined ? '' : formatJson(prop.default));
  } else {
    input = h(prop.maxLength > 200 || prop.format === 'textarea' ? 'textarea' : 'input', { type: 'text', name: key, value: prop.default ?? '', required: isRequired });
  }
  return { input, wrapper: field(label, input, { hint }) };
}

function readControl(prop, { input }) {
  if (prop.type === 'boolean') return input.checked;
  const value = input.value;
  if (value === '') return undefined;
  if (prop.type === 'integer' || prop.type === 'number') return Number(value);
  if (prop.type === 'object' || prop.type === 'array') return JSON.parse(value);
  return value;
}

// The dry-run answer (DryRunPlan: problems, input_problems, steps, min/expected/max_cost_usd, unpriced_models, is_valid),
// or a validation problem (errors by field).
function renderValidation(data) {
  const errors = [...(data.problems ?? []), ...(data.input_problems ?? [])];
  const errorList = errors.length ? errors
    : data.errors ? Object.entries(data.errors).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((m) => `${k}: ${m}`)) : [];
  const plan = (data.steps ?? data.plan ?? []).map((step) => ({
    step: `${'  '.repeat(step.depth ?? 0)}${step.display_name ?? step.id}`,
    type: step.type,
    runs: step.runs_unknown ? 'unknown' : step.runs,
    models: Array.isArray(step.models) ? step.models.join(', ') : step.models,
    input_tokens: step.estimated_input_tokens,
    output_tokens: step.expected_output_tokens,
    expected_cost_usd: step.expected_cost_usd,
    note: step.note,
  }));
  const estimate = 'expected_cost_usd' in data
    ? { min_cost_usd: data.min_cost_usd, expected_cost_usd: data.expected_cost_usd, max_cost_usd: data.max_cost_usd, unpriced_models: (data.unpriced_models ?? []).join(', ') || 'none' }
    : data.cost_estimate ?? null;
  const valid = data.is_valid ?? data.valid ?? errorList.length === 0;
  return h('div', { 'data-role': 'dry-run' },
    h('p', { class: valid ? 'notice' : 'notice error' }, valid ? 'Valid: nothing was run or paid for.' : 'Not valid.'),
    errorList.length ? h('ul', { class: 'errors' }, errorList.map((e) => h('li', null, typeof e === 'string' ? e : [e.json_path ?? e.path ?? e.field, e.message, e.hint].filter(Boolean).join(': ')))) : null,
    Array.isArray(plan) && plan.length ? [h('h3', null, 'Plan'), table({
      columns: Object.keys(plan[0]).filter((k) => plan.some((p) => p[k] != null && p[k] !== ''))
        .map((k) => ({ label: k.replaceAll('_', ' '), num: k.includes('tokens') || k.includes('cost'), cell: (p) => (k.includes('cost') ? formatCost(p[k]) : String(p[k] ?? '—')) })),
      rows: plan,
    })] : null,
    estimate ? [h('h3', null, 'Cost estimate'), typeof estimate === 'object'
      ? h('dl', { class: 'facts' }, Object.entries(estimate).map(([k, v]) => [h('dt', null, k.replaceAll('_', ' ')),
        h('dd', { 'data-estimate': k }, v != null && typeof v === 'object' ? h('pre', { class: 'json' }, formatJson(v)) : k.includes('usd') || k.includes('cost') ? formatCost(v) : String(v))]))
      : h('p', null, String(estimate))] : null,
    h('details', null, h('summary', null, 'Full answer'), h('pre', { class: 'json' }, formatJson(data))));
}
