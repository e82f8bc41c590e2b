// Draws the Mermaid flowcharts of GET /workflows/{name}/diagram (the engine's MermaidDiagram, also `llmwf diagram`)
// with the mermaid library itself, vendored under vendor/mermaid (see its NOTICE.md) and loaded on first use: about
// 2.7 MB, fetched only on a workflow's page. It lays out what a hand-written renderer got wrong: parallel lanes that
// fork and join, for_each bodies that loop back to their head, nested subgraphs, labels sized to their text.
// securityLevel 'strict' escapes labels; the SVG it returns is sanitized by its bundled DOMPurify.
import { h } from './dom.js';

let library = null;
let drawings = 0;

function loadMermaid() {
  library ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = new URL('../vendor/mermaid/mermaid.min.js', import.meta.url).href;
    script.onload = () => resolve(window.mermaid);
    script.onerror = () => {
      library = null;
      reject(new Error('The diagram library (vendor/mermaid) could not be loaded.'));
    };
    document.head.append(script);
  });
  return library;
}

/** Mermaid's 'base' theme in the dashboard's colours (css/dashboard.css): readable boxes and visible arrows in both schemes. */
function settings() {
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const dark = window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
  return {
    startOnLoad: false,
    securityLevel: 'strict',
    theme: 'base',
    darkMode: dark,
    themeVariables: {
      darkMode: dark,
      background: color('--surface'),
      primaryColor: color('--surface-2'),
      primaryTextColor: color('--text'),
      primaryBorderColor: color('--accent'),
      secondaryColor: color('--surface'),
      tertiaryColor: color('--surface'),
      lineColor: color('--text'),
      textColor: color('--text'),
      clusterBkg: color('--surface'),
      clusterBorder: color('--border'),
      edgeLabelBackground: color('--surface'),
      fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
    },
    // Scaled down to the card's width (never a horizontal scroll); long labels wrap inside their node.
    flowchart: { useMaxWidth: true, curve: 'basis' },
  };
}

/**
 * A figure that fills in once mermaid has drawn the flowchart: data-state is "drawing", then "drawn" (the SVG is
 * inside) or "failed" (a message says why; the Mermaid source stays available beside it).
 */
export function renderDiagram(text, title) {
  const figure = h('figure', { 'data-role': 'diagram', 'data-state': 'drawing', 'aria-busy': 'true' },
    h('p', { class: 'muted small-text' }, 'Drawing the diagram…'));
  draw(figure, text, title);
  return figure;
}

async function draw(figure, text, title) {
  try {
    const mermaid = await loadMermaid();
    // Configured at every drawing from the page's own colours, so a diagram follows the light or dark scheme in force.
    mermaid.initialize(settings());
    const { svg } = await mermaid.render(`workflow-diagram-${++drawings}`, text);
    const parsed = new DOMParser().parseFromString(svg, 'image/svg+xml').documentElement;
    const element = document.importNode(parsed, true);
    element.classList.add('diagram');
    element.setAttribute('aria-label', title);
    figure.replaceChildren(element, h('figcaption', { class: 'visually-hidden' }, title));
    figure.dataset.state = 'drawn';
  } catch (error) {
    figure.replaceChildren(h('p', { class: 'notice warn', role: 'status' }, `The diagram could not be drawn: ${error?.message ?? error}. The Mermaid source is below.`));
    figure.dataset.state = 'failed';
  } finally {
    figure.removeAttribute('aria-busy');
  }
}

/** A linear Mermaid flowchart built from a definition's steps, when the API has no diagram route. */
export function mermaidFromSteps(steps) {
  const lines = ['flowchart TD'];
  const safe = (id) => `s_${id.replace(/[^A-Za-z0-9_]/g, '_')}`;
  steps.forEach((step, i) => {
    lines.push(`  ${safe(step.id)}["${(step.display_name ?? step.id).replaceAll('"', '#quot;')}"]`);
    if (i > 0) lines.push(`  ${safe(steps[i - 1].id)} --> ${safe(step.id)}`);
  });
  return lines.join('\n');
}
