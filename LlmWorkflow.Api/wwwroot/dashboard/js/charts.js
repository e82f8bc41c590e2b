// Charts without a library. Bar charts are HTML (labels wrap, so a long model name is never cut); line charts SVG.
import { h, s } from './dom.js';

/**
 * Horizontal bars, one per row, each with its whole label and its figure; the table beside it is the accessible form.
 * @param {{label: string, value: number, display: string}[]} rows
 * @param {string} title  accessible name of the chart
 */
export function barChart(rows, title) {
  const max = Math.max(...rows.map((r) => r.value), 0) || 1;
  return h('div', { class: 'bar-chart', role: 'img', 'aria-label': title, 'data-role': 'bar-chart' },
    rows.map((row) => h('div', { class: 'bar-row', 'aria-hidden': 'true' },
      h('span', { class: 'bar-label', 'data-role': 'chart-label' }, row.label),
      h('span', { class: 'bar-track' }, h('span', { class: 'bar-fill', style: `width:${row.value > 0 ? Math.max(0.5, (row.value / max) * 100).toFixed(2) : 0}%` })),
      h('span', { class: 'bar-value', 'data-role': 'chart-label' }, row.display))));
}

/**
 * A time-series line chart: one line per series over shared time buckets, with y gridlines and x labels. It is
 * role="img" with a summary as its name; views put the same numbers in a table (the accessible, exact form).
 * @param {{name: string, points: {t: number, v: number}[]}[]} series  t in ms since the epoch; missing buckets are gaps in the data, not zeros
 * @param {{title: string, from: number, to: number, width?: number, height?: number, format?: (v: number) => string, timeLabel?: (t: number) => string, integer?: boolean, step?: number}} options
 *   integer: counts, so the scale tops at an even whole number and the middle gridline is whole too
 *   step: the bucket length in ms: each point is drawn flat across its bucket and a change is a vertical jump at the
 *   bucket's edge (a jump within a minute is a jump, not a slope to the next point); a missing bucket breaks the line
 */
export function lineChart(series, { title, from, to, width = 640, height = 220, format = String, timeLabel = (t) => new Date(t).toISOString(), integer = false, step = 0 }) {
  const left = 64;
  const right = 12;
  const top = 10;
  const bottom = 28;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const highest = Math.max(0, ...series.flatMap((line) => line.points.map((p) => p.v)));
  const max = integer ? Math.max(2, Math.ceil(highest / 2) * 2) : highest || 1;
  const x = (t) => left + (to > from ? ((t - from) / (to - from)) * plotW : 0);
  const y = (v) => top + plotH - (v / max) * plotH;
  const svg = s('svg', { class: 'chart line-chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, preserveAspectRatio: 'xMinYMin meet' });
  svg.append(s('title', null, title));
  for (const fraction of [0, 0.5, 1]) {
    const value = max * fraction;
    svg.append(
      s('line', { class: 'grid', x1: left, x2: width - right, y1: y(value), y2: y(value) }),
      s('text', { x: left - 6, y: y(value) + 4, 'text-anchor': 'end' }, format(value)));
  }
  [from, (from + to) / 2, to].forEach((t, i) => {
    svg.append(s('text', { x: x(t), y: height - 8, 'text-anchor': ['start', 'middle', 'end'][i] }, timeLabel(t)));
  });
  series.forEach((line, i) => {
    const points = [...line.points].sort((a, b) => a.t - b.t);
    const group = s('g', { class: `series series-${i % 6}`, 'data-series': line.name });
    if (step > 0 && points.length > 0) group.append(s('path', { class: 'steps', style: 'fill:none;stroke-width:2', d: stepPath(points, step, x, y, to) }));
    else if (points.length > 1) group.append(s('polyline', { points: points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ') }));
    for (const p of points) {
      group.append(s('circle', { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: points.length > 120 ? 1.5 : 3 },
        s('title', null, `${line.name}, ${timeLabel(p.t)}: ${format(p.v)}`)));
    }
    svg.append(group);
  });
  return svg;
}

/** SVG path data of a step line: flat across each bucket, vertical at bucket edges, broken where a bucket is missing. */
function stepPath(points, step, x, y, to) {
  const parts = [];
  points.forEach((p, i) => {
    const contiguous = i > 0 && p.t - points[i - 1].t <= step;
    parts.push(contiguous ? `V${y(p.v).toFixed(1)}` : `M${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
    parts.push(`H${x(Math.min(p.t + step, to)).toFixed(1)}`);
  });
  return parts.join(' ');
}

/** The legend of a lineChart: the series names with their colours (the colour is never the only cue: names are listed). */
export function legend(names) {
  const list = document.createElement('ul');
  list.className = 'legend';
  names.forEach((name, i) => {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch series-${i % 6}`;
    swatch.setAttribute('aria-hidden', 'true');
    item.append(swatch, name);
    list.append(item);
  });
  return list;
}
