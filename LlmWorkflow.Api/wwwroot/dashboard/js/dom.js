// Tiny DOM helpers: build elements without innerHTML so API text is never parsed as markup.

/** h('a', {href: '#', class: 'x', onclick: fn}, 'text', child) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Same as h() for SVG elements. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value != null) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value' || key === 'checked' || key === 'selected') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
  return parent;
}

/** Replaces all children of an element. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

let toastTimer;

/** Short confirmation for an action, announced by the live region. */
export function toast(message) {
  const box = document.getElementById('toast');
  box.textContent = message;
  box.classList.add('visible');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.classList.remove('visible'), 4000);
}

/** A <select> with options given as [value, label] pairs or plain strings. */
export function select(attrs, options, selected) {
  const el = h('select', attrs, options.map((option) => {
    const [value, label] = Array.isArray(option) ? option : [option, option];
    return h('option', { value }, label);
  }));
  el.value = selected ?? '';
  return el;
}

/** A labelled field wrapper. */
export function field(label, control, { inline = false, hint } = {}) {
  if (!control.id) control.id = `f-${Math.random().toString(36).slice(2, 9)}`;
  return h('div', { class: inline ? 'field inline' : 'field' },
    inline ? [control, h('label', { for: control.id }, label)] : [h('label', { for: control.id }, label), control],
    hint ? h('span', { class: 'muted small-text' }, hint) : null);
}

/** A responsive table: headers become data-label on cells so narrow screens can stack them. */
export function table({ caption, columns, rows, attrs, rowAttrs }) {
  const head = h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label))));
  const body = h('tbody', null, rows.map((row) => tableRow(columns, row, rowAttrs?.(row))));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'responsive', ...attrs }, caption ? h('caption', null, caption) : null, head, body));
}

export function tableRow(columns, row, attrs) {
  return h('tr', attrs, columns.map((c) => h('td', { 'data-label': c.label, class: c.num ? 'num' : null }, h('div', { class: 'cell' }, c.cell(row)))));
}
