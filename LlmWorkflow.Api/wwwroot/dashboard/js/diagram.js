// A small renderer for the Mermaid flowcharts of GET /workflows/{name}/diagram: nodes laid out in layers (longest path
// from a start node), drawn as SVG boxes and arrows, plus an ordered text list for screen readers. It understands the
// subset workflow diagrams use (flowchart/graph, node shapes [..] (..) {..} [[..]] ([..]) ((..)) [/../], subgraphs,
// edges -->, -.->, ==> with |labels| or -- label -->, #quot;-style entities); anything else is ignored and the raw
// text stays available. Nodes inside a subgraph (parallel branches, for_each bodies) hang below it.
// Why not the mermaid library: it is about 3 MB minified with many dependencies, for what here is a short chain.
import { h, s } from './dom.js';

const NODE = /([A-Za-z0-9_.:-]+)\s*(\(\[|\[\[|\(\(|\[\(|\[\/|\[\\|\[|\(|\{\{|\{|>)\s*"?(.*?)"?\s*(\]\)|\]\]|\)\)|\)\]|\/\]|\\\]|\]|\)|\}\}|\})/y;
const SUBGRAPH = /^subgraph\s+([A-Za-z0-9_.:-]+)\s*(?:\[\s*"?(.*?)"?\s*\])?\s*$/;
const ENTITIES = { quot: '"', amp: '&', lt: '<', gt: '>', '35': '#' };
const ID = /([A-Za-z0-9_.:-]+)/y;
const EDGE = /\s*(?:--\s*([^->|][^-]*?)\s*-->|-->|-\.->|-\.\s*([^.]+?)\s*\.->|==>|---|-\.-)\s*(?:\|"?([^|]*?)"?\|)?\s*/y;

export function parseMermaid(text) {
  const nodes = new Map();
  const edges = [];
  const node = (id, label) => {
    if (!nodes.has(id)) nodes.set(id, { id, label: id });
    const n = nodes.get(id);
    if (label) n.label = decode(label);
    if (!n.parent && groups.length && groups[groups.length - 1] !== id) n.parent = groups[groups.length - 1];
    return id;
  };
  const groups = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const group = line.match(SUBGRAPH);
    if (group) {
      node(group[1], group[2]);
      groups.push(group[1]);
      continue;
    }
    if (line === 'end') {
      groups.pop();
      continue;
    }
    if (!line || /^(flowchart|graph|%%|classDef|class |style |linkStyle|click |direction)/.test(line)) continue;
    let pos = 0;
    const readNode = () => {
      NODE.lastIndex = pos;
      let m = NODE.exec(line);
      if (m) { pos = NODE.lastIndex; return node(m[1], m[3]); }
      ID.lastIndex = pos;
      m = ID.exec(line);
      if (m) { pos = ID.lastIndex; return node(m[1]); }
      return null;
    };
    let from = readNode();
    while (from && pos < line.length) {
      EDGE.lastIndex = pos;
      const e = EDGE.exec(line);
      if (!e) break;
      pos = EDGE.lastIndex;
      const to = readNode();
      if (!to) break;
      edges.push({ from, to, label: (e[3] ?? e[1] ?? e[2] ?? '').trim() });
      from = to;
    }
  }
  // A subgraph's members without an incoming edge start below it.
  for (const n of nodes.values()) {
    if (n.parent && !edges.some((e) => e.to === n.id)) edges.push({ from: n.parent, to: n.id, label: '', implicit: true });
  }
  return { nodes: [...nodes.values()], edges };
}

function decode(label) {
  return label.replace(/#(\w+);/g, (all, name) => ENTITIES[name] ?? all).replace(/<br\s*\/?>/gi, ' ').replace(/\\n/g, ' ');
}

/** Layers by longest path from the roots (cycles are cut at the first back edge). */
function layers(graph) {
  const level = new Map(graph.nodes.map((n) => [n.id, 0]));
  for (let pass = 0; pass < graph.nodes.length; pass++) {
    let changed = false;
    for (const e of graph.edges) {
      if (e.from === e.to) continue;
      const next = level.get(e.from) + 1;
      if (next > level.get(e.to) && next < graph.nodes.length) { level.set(e.to, next); changed = true; }
    }
    if (!changed) break;
  }
  return level;
}

export function renderDiagram(text, title) {
  const graph = parseMermaid(text);
  if (graph.nodes.length === 0) return h('p', { class: 'muted' }, 'The diagram has no nodes this view understands; see the Mermaid text below.');
  const level = layers(graph);
  const rows = [];
  for (const n of graph.nodes) (rows[level.get(n.id)] ??= []).push(n);
  const boxW = 180; const boxH = 40; const gapX = 24; const gapY = 46; const pad = 10;
  const widest = Math.max(...rows.map((r) => r?.length ?? 0));
  const width = Math.max(boxW + 2 * pad, widest * boxW + (widest - 1) * gapX + 2 * pad);
  const pos = new Map();
  rows.forEach((row, r) => {
    if (!row) return;
    const rowWidth = row.length * boxW + (row.length - 1) * gapX;
    row.forEach((n, i) => pos.set(n.id, { x: (width - rowWidth) / 2 + i * (boxW + gapX), y: pad + r * (boxH + gapY) }));
  });
  const height = pad * 2 + rows.length * boxH + (rows.length - 1) * gapY;
  const svg = s('svg', { class: 'diagram', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': title });
  svg.append(s('defs', null, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));
  for (const e of graph.edges) {
    const a = pos.get(e.from); const b = pos.get(e.to);
    const down = b.y > a.y;
    const x1 = a.x + boxW / 2; const y1 = down ? a.y + boxH : a.y;
    const x2 = b.x + boxW / 2; const y2 = down ? b.y : b.y + boxH;
    const mid = (y1 + y2) / 2;
    svg.append(s('path', { d: `M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2}`, 'marker-end': 'url(#arrow)', 'stroke-dasharray': e.implicit ? '4 3' : null }));
    if (e.label) svg.append(s('text', { x: (x1 + x2) / 2 + 4, y: mid + 4, 'font-size': 11 }, e.label.slice(0, 24)));
  }
  for (const n of graph.nodes) {
    const p = pos.get(n.id);
    svg.append(s('rect', { x: p.x, y: p.y, width: boxW, height: boxH, rx: 6 }),
      s('text', { x: p.x + boxW / 2, y: p.y + boxH / 2 + 4, 'text-anchor': 'middle' }, n.label.length > 26 ? `${n.label.slice(0, 25)}…` : n.label));
  }
  const list = h('ol', { class: 'visually-hidden' }, graph.nodes.map((n) => {
    const outgoing = graph.edges.filter((e) => e.from === n.id).map((e) => `${graph.nodes.find((x) => x.id === e.to).label}${e.label ? ` (${e.label})` : ''}${e.implicit ? ' (inside)' : ''}`);
    return h('li', null, `${n.label}${outgoing.length ? ` → ${outgoing.join(', ')}` : ''}`);
  }));
  return h('figure', { 'data-role': 'diagram' }, svg, list);
}

/** A linear Mermaid flowchart built from a definition's steps, when the API has no diagram route. */
export function mermaidFromSteps(steps) {
  const lines = ['flowchart TD'];
  const safe = (id) => id.replace(/[^A-Za-z0-9_]/g, '_');
  steps.forEach((step, i) => {
    lines.push(`  ${safe(step.id)}["${(step.display_name ?? step.id).replaceAll('"', "'")}"]`);
    if (i > 0) lines.push(`  ${safe(steps[i - 1].id)} --> ${safe(step.id)}`);
  });
  return lines.join('\n');
}
