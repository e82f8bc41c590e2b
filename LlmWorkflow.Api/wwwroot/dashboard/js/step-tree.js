// The job timeline as a tree: the API's step records are flat (one per step and attempt), each naming the control-flow
// step it ran inside (parent_step_id) and where (branch: a parallel branch id, then/else, or a for_each index). Inside
// a for_each iteration a step's key is `{for_each key}[{index}]/{step id}`, so the key tells which iteration it is.

/** Where a step sits: the key of its parent step and, inside a for_each, the iteration index. */
export function placeOf(step) {
  const parent = step.parent_step_id;
  if (!parent) return { parentKey: null, group: null, iteration: null };
  const slash = step.key.lastIndexOf('/');
  const prefix = slash >= 0 ? step.key.slice(0, slash) : '';
  const iteration = /^(.*)\[(\d+)\]$/.exec(prefix);
  // `each[2]/child` whose parent is `each`: iteration 2 of the for_each `each` (which may itself be nested).
  if (iteration && (iteration[1] === parent || iteration[1].endsWith(`/${parent}`))) {
    return { parentKey: iteration[1], group: prefix, iteration: Number(iteration[2]) };
  }
  // A parallel branch or a condition's block: the parent shares the step's key prefix.
  const parentKey = prefix ? `${prefix}/${parent}` : parent;
  return { parentKey, group: step.branch != null ? `${parentKey}:${step.branch}` : parentKey, iteration: null };
}

/**
 * The depth-first order of every step id in a workflow definition (steps nested in any config: parallel branches,
 * for_each bodies, then/else), so siblings show in the order the author wrote them.
 */
export function definitionOrder(definition) {
  const order = new Map();
  const walk = (value) => {
    if (Array.isArray(value)) { value.forEach(walk); return; }
    if (!value || typeof value !== 'object') return;
    if (typeof value.id === 'string' && typeof value.type === 'string' && !order.has(value.id)) order.set(value.id, order.size);
    Object.values(value).forEach(walk);
  };
  walk(definition?.steps ?? []);
  return order;
}

/** Microseconds since the epoch of an ISO time (Date.parse drops the API's microseconds, which order parallel starts). */
function micros(iso) {
  if (!iso) return Number.POSITIVE_INFINITY;
  const match = /\.(\d+)/.exec(iso);
  const fraction = match ? Number(match[1].padEnd(6, '0').slice(0, 6)) : 0;
  const seconds = Date.parse(iso.replace(/\.\d+/, ''));
  return Number.isFinite(seconds) ? seconds * 1000 + fraction : Number.POSITIVE_INFINITY;
}

/**
 * Builds the tree: nodes {step, groups: [{key, label, iteration, branch, children}]}, siblings ordered by the
 * definition, then by their first start (over every attempt, so a retry never moves a parent below its children),
 * iterations by index. A parent that has no record yet (a for_each still running) gets a placeholder.
 * @param {Map<string, object>} steps  step key -> merged step state (key, step_id, parent_step_id, branch, first_started_at)
 * @param {Map<string, number>} order  definitionOrder() of the job's workflow (empty when unknown)
 */
export function buildTree(shown, order) {
  const steps = withPlaceholders(shown);
  const nodes = new Map([...steps.values()].map((step) => [step.key, { key: step.key, step, groups: new Map() }]));
  const roots = [];
  for (const current of nodes.values()) {
    const place = placeOf(current.step);
    const parent = place.parentKey ? nodes.get(place.parentKey) : null;
    if (!parent) { roots.push(current); continue; }
    let group = parent.groups.get(place.group);
    if (!group) {
      group = { key: place.group, iteration: place.iteration, branch: current.step.branch ?? null, children: [] };
      parent.groups.set(place.group, group);
    }
    group.children.push(current);
  }
  const rank = (n) => order.get(n.step?.step_id) ?? Number.MAX_SAFE_INTEGER;
  const compare = (a, b) => rank(a) - rank(b) || micros(a.step?.first_started_at) - micros(b.step?.first_started_at) || (a.key < b.key ? -1 : 1);
  const sortNode = (n) => {
    const groups = [...n.groups.values()];
    for (const g of groups) { g.children.sort(compare); g.children.forEach(sortNode); }
    groups.sort((a, b) => (a.iteration ?? -1) - (b.iteration ?? -1)
      || Math.min(...a.children.map(rank)) - Math.min(...b.children.map(rank))
      || micros(a.children[0]?.step?.first_started_at) - micros(b.children[0]?.step?.first_started_at));
    n.groups = groups;
  };
  roots.sort(compare);
  roots.forEach(sortNode);
  return roots;
}

/**
 * Adds a running placeholder for every parent without a record yet (a parallel or for_each records itself when it
 * ends); its own parent comes from its key (`each[1]/par` ran in iteration 1 of `each`).
 */
function withPlaceholders(shown) {
  const steps = new Map(shown);
  for (const step of shown.values()) {
    let child = step;
    for (let place = placeOf(child); place.parentKey && !steps.has(place.parentKey); place = placeOf(child)) {
      const slash = place.parentKey.lastIndexOf('/');
      const prefix = slash >= 0 ? place.parentKey.slice(0, slash) : '';
      const outer = /^(.*)\[(\d+)\]$/.exec(prefix);
      child = {
        key: place.parentKey, step_id: child.parent_step_id, display_name: child.parent_step_id, status: 'running', placeholder: true,
        parent_step_id: outer ? outer[1].slice(outer[1].lastIndexOf('/') + 1) : null, branch: outer ? outer[2] : null,
        first_started_at: child.first_started_at,
      };
      steps.set(child.key, child);
    }
  }
  return steps;
}
