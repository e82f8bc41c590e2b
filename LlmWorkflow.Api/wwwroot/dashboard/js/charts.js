// Inline SVG bar charts (no library): horizontal bars, one per row, labelled; the table beside it is the accessible form.
import { s } from './dom.js';

/**
 * @param {{label: string, value: number, display: string}[]} rows
 * @param {string} title  accessible name of the chart
 * @param {number} width  drawing width in CSS pixels (the SVG still scales), so text stays legible on phones
 */
export function barChart(rows, title, width = 640) {
  const rowHeight = 26;
  const labelWidth = Math.round(Math.min(170, Math.max(90, width * 0.3)));
  const valueWidth = 80;
  const height = Math.max(rowHeight, rows.length * rowHeight) + 6;
  const max = Math.max(...rows.map((r) => r.value), 0) || 1;
  const barSpace = width - labelWidth - valueWidth - 10;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, preserveAspectRatio: 'xMinYMin meet' });
  svg.append(s('title', null, title));
  rows.forEach((row, i) => {
    const y = i * rowHeight + 3;
    const w = Math.max(row.value > 0 ? 2 : 0, (row.value / max) * barSpace);
    svg.append(
      s('text', { x: labelWidth - 8, y: y + 16, 'text-anchor': 'end' }, truncate(row.label, Math.floor(labelWidth / 7))),
      s('rect', { class: 'track', x: labelWidth, y: y + 3, width: barSpace, height: rowHeight - 8, rx: 3 }),
      s('rect', { class: 'bar', x: labelWidth, y: y + 3, width: w, height: rowHeight - 8, rx: 3 }),
      s('text', { x: labelWidth + barSpace + 8, y: y + 16 }, row.display));
  });
  return svg;
}

function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
