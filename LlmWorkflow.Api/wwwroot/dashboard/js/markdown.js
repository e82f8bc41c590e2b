// A small Markdown renderer for LLM output: headings, paragraphs, bullet and numbered lists, fenced code, and inline
// **bold**, *emphasis* and `code`. It builds DOM nodes with text content only, so model output can never inject markup.
import { h } from './dom.js';

const INLINE = /(\*\*[^*]+\*\*|`[^`]+`|\*[^*\s][^*]*\*)/g;

function inline(text) {
  return text.split(INLINE).filter((part) => part !== '').map((part) => {
    if (part.startsWith('**') && part.endsWith('**') && part.length > 4) return h('strong', null, part.slice(2, -2));
    if (part.startsWith('`') && part.endsWith('`') && part.length > 2) return h('code', null, part.slice(1, -1));
    if (part.startsWith('*') && part.endsWith('*') && part.length > 2) return h('em', null, part.slice(1, -1));
    return part;
  });
}

/** Renders Markdown text as a <div class="markdown">. */
export function renderMarkdown(text) {
  const blocks = [];
  const lines = String(text).replace(/\r\n/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.startsWith('```')) {
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) code.push(lines[i]);
      i++;
      blocks.push(h('pre', { class: 'json' }, h('code', null, code.join('\n'))));
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      // Output headings sit under the page's own h2/h3.
      blocks.push(h(`h${Math.min(6, heading[1].length + 3)}`, null, inline(heading[2])));
      i++;
      continue;
    }
    const list = /^\s*([-*+]|\d+[.)])\s+/.exec(line);
    if (list) {
      const ordered = /\d/.test(list[1]);
      const items = [];
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i]) && /\d/.test(/^\s*([-*+]|\d+[.)])/.exec(lines[i])[1]) === ordered) {
        items.push(h('li', null, inline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ''))));
        i++;
      }
      blocks.push(h(ordered ? 'ol' : 'ul', null, items));
      continue;
    }
    if (line.trim() === '') {
      i++;
      continue;
    }
    const paragraph = [];
    while (i < lines.length && lines[i].trim() !== '' && !/^(#{1,6}\s|```|\s*([-*+]|\d+[.)])\s+)/.test(lines[i])) paragraph.push(lines[i++]);
    blocks.push(h('p', null, inline(paragraph.join(' '))));
  }
  return h('div', { class: 'markdown' }, blocks);
}

/** Text worth rendering as Markdown: several lines, or a heading, list, emphasis or code mark. */
function looksLikeMarkdown(text) {
  return /\n|^#{1,6}\s|^\s*([-*+]|\d+[.)])\s|\*\*|`/m.test(text);
}

function jsonBlock(value, attrs = {}) {
  const pre = h('pre', { class: 'json', tabindex: '0', ...attrs });
  pre.textContent = JSON.stringify(value, null, 2);
  return pre;
}

/** How deep objects and lists are opened into labelled blocks; deeper values stay JSON. */
const MAX_DEPTH = 4;

/** Whether a value holds text worth rendering as Markdown, at any depth up to MAX_DEPTH (e.g. parsed_sections). */
function holdsMarkdown(value, depth = 0) {
  if (typeof value === 'string') return looksLikeMarkdown(value);
  if (depth >= MAX_DEPTH || !value || typeof value !== 'object') return false;
  return Object.values(value).some((v) => holdsMarkdown(v, depth + 1));
}

/** One field's value: text as Markdown (or a paragraph), an object or list holding Markdown opened, the rest JSON. */
function renderField(value, depth) {
  if (typeof value === 'string') return looksLikeMarkdown(value) ? renderMarkdown(value) : h('p', null, value);
  if (depth < MAX_DEPTH && holdsMarkdown(value, depth)) {
    return Array.isArray(value)
      ? h('ol', { class: 'output-items' }, value.map((item) => h('li', null, renderField(item, depth + 1))))
      : fieldList(value, depth + 1);
  }
  return jsonBlock(value);
}

function fieldList(object, depth) {
  return h('dl', { class: 'output-fields' }, Object.entries(object).map(([key, v]) => [
    h('dt', null, h('code', null, key)),
    h('dd', { 'data-field': key }, renderField(v, depth)),
  ]));
}

/**
 * A step's or job's output, readable: text as Markdown; an llm step's {"text": "...", ...} as its Markdown; an object
 * holding text (at any depth, e.g. an llm step's parsed_sections) as one labelled block per field (Markdown for text,
 * nested objects and lists holding text opened the same way, indented JSON for the rest), with the raw JSON folded
 * beneath; anything else as indented JSON.
 */
export function renderOutput(value, attrs = {}) {
  if (typeof value === 'string') return h('div', { ...attrs, 'data-format': 'markdown' }, renderMarkdown(value));
  const isObject = value && typeof value === 'object' && !Array.isArray(value);
  const entries = isObject ? Object.entries(value) : [];
  // An llm step's answer: its text first, the model, usage and the rest folded beneath.
  if (typeof value?.text === 'string') {
    return h('div', { ...attrs, 'data-format': 'markdown' }, renderMarkdown(value.text),
      entries.length > 1 ? h('details', { class: 'raw-json' }, h('summary', null, 'Model, usage and the whole output as JSON'), jsonBlock(value, { 'data-role': 'raw-json' })) : null);
  }
  if (!isObject || !holdsMarkdown(value)) return jsonBlock(value, { ...attrs, 'data-format': 'json' });
  return h('div', { ...attrs, 'data-format': 'fields' },
    fieldList(value, 1),
    h('details', { class: 'raw-json' }, h('summary', null, 'As JSON'), jsonBlock(value, { 'data-role': 'raw-json' })));
}
