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

/**
 * A step's or job's output, readable: text as Markdown; an llm step's {"text": "...", ...} as its Markdown; an object
 * whose fields hold text as one labelled block per field (Markdown for text, indented JSON for the rest), with the
 * raw JSON folded beneath; anything else as indented JSON.
 */
export function renderOutput(value, attrs = {}) {
  if (typeof value === 'string') return h('div', { ...attrs, 'data-format': 'markdown' }, renderMarkdown(value));
  const isObject = value && typeof value === 'object' && !Array.isArray(value);
  const entries = isObject ? Object.entries(value) : [];
  const textual = entries.filter(([, v]) => typeof v === 'string' && looksLikeMarkdown(v));
  // An llm step's answer: its text first, the model, usage and the rest folded beneath.
  if (typeof value?.text === 'string') {
    return h('div', { ...attrs, 'data-format': 'markdown' }, renderMarkdown(value.text),
      entries.length > 1 ? h('details', { class: 'raw-json' }, h('summary', null, 'Model, usage and the whole output as JSON'), jsonBlock(value, { 'data-role': 'raw-json' })) : null);
  }
  if (textual.length === 0) return jsonBlock(value, { ...attrs, 'data-format': 'json' });
  return h('div', { ...attrs, 'data-format': 'fields' },
    h('dl', { class: 'output-fields' }, entries.map(([key, v]) => [
      h('dt', null, h('code', null, key)),
      h('dd', { 'data-field': key }, typeof v === 'string'
        ? (looksLikeMarkdown(v) ? renderMarkdown(v) : h('p', null, v))
        : jsonBlock(v)),
    ])),
    h('details', { class: 'raw-json' }, h('summary', null, 'As JSON'), jsonBlock(value, { 'data-role': 'raw-json' })));
}
