// Screenshots one span of a trace in the Aspire dashboard: signs in with the login URL, opens the trace, clicks the
// first span whose name starts with <span name prefix> and saves the page once the span's details show.
// Drives Debian's chromium headless over the DevTools protocol (Node 20: run with --experimental-websocket).
// Usage: node --experimental-websocket aspire-span.mjs <login url> <trace id> <span name prefix> <out.png> [width]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [loginUrl, traceId, spanPrefix, output, widthArg = '1280'] = process.argv.slice(2);
if (!output) {
  console.error('Usage: aspire-span.mjs <login url> <trace id> <span name prefix> <out.png> [width]');
  process.exit(2);
}
const width = Number(widthArg);
const height = 900;
const dashboard = new URL(loginUrl).origin;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const profile = mkdtempSync(join(tmpdir(), 'aspire-span-'));
const browser = spawn(process.env.CHROMIUM ?? '/usr/bin/chromium', [
  '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${profile}`,
  '--remote-debugging-port=0', `--window-size=${width},${height}`, 'about:blank',
], { stdio: ['ignore', 'ignore', 'pipe'] });
const endpoint = await new Promise((resolve, reject) => {
  let text = '';
  browser.stderr.on('data', (chunk) => {
    text += chunk;
    const match = /DevTools listening on (ws:\/\/\S+)/.exec(text);
    if (match) resolve(match[1]);
  });
  browser.once('exit', () => reject(new Error(`chromium exited: ${text}`)));
});

// One page target, driven through the browser connection with flattened sessions.
const socket = new WebSocket(endpoint);
await new Promise((resolve) => socket.addEventListener('open', resolve, { once: true }));
let nextId = 1;
const pending = new Map();
socket.addEventListener('message', (event) => {
  const message = JSON.parse(event.data);
  if (message.id && pending.has(message.id)) {
    const { resolve, reject } = pending.get(message.id);
    pending.delete(message.id);
    message.error ? reject(new Error(JSON.stringify(message.error))) : resolve(message.result);
  }
});
const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
  const id = nextId++;
  pending.set(id, { resolve, reject });
  socket.send(JSON.stringify({ id, method, params, sessionId }));
});
const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
const page = (method, params) => send(method, params, sessionId);
const evaluate = async (expression) =>
  (await page('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true })).result.value;
const waitFor = async (what, expression, seconds = 60) => {
  for (let deadline = Date.now() + seconds * 1000; Date.now() < deadline; await sleep(250)) {
    const value = await evaluate(expression);
    if (value) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
};

try {
  await page('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
  await page('Page.navigate', { url: loginUrl });
  await waitFor('the sign-in to finish', `!location.pathname.startsWith('/login') && document.readyState === 'complete'`);
  await page('Page.navigate', { url: `${dashboard}/traces/detail/${traceId}` });
  // The span rows render once the dashboard's Blazor circuit has loaded the trace.
  const spanRow = `[...document.querySelectorAll('.span-name-container')]
      .find((element) => element.textContent.includes(${JSON.stringify(spanPrefix)}))`;
  const centre = `(() => {
    const row = ${spanRow};
    if (!row) return null;
    row.scrollIntoView({ block: 'center' });
    const r = row.getBoundingClientRect();
    return { x: r.x + Math.min(r.width / 2, 120), y: r.y + r.height / 2 };
  })()`;
  const box = await waitFor('the span row', centre);
  // The dashboard warns about the missing https development certificate (this run is plain http): closed with the
  // message bar's own dismiss button, as a reader would, so it does not take the top of the picture.
  await evaluate(`(() => {
    const bar = [...document.querySelectorAll('fluent-message-bar, .fluent-messagebar, [role=status], [role=alert]')]
      .find((element) => element.textContent.includes('development certificate'));
    const close = bar && [...bar.querySelectorAll('button, fluent-button, [role=button]')].pop();
    if (close) close.click();
  })()`);
  await sleep(500);
  const target = (await evaluate(centre)) ?? box;
  for (const type of ['mousePressed', 'mouseReleased']) {
    await page('Input.dispatchMouseEvent', { type, x: target.x, y: target.y, button: 'left', clickCount: 1 });
  }
  await waitFor('the span details', `document.body.innerText.includes('gen_ai.request.model')`);
  await sleep(1500); // the details pane animates open
  // The opened span's row stays in the picture, and the pointer leaves the grid so no other row shows as hovered.
  await evaluate(`(${spanRow})?.scrollIntoView({ block: 'center' })`);
  await page('Input.dispatchMouseEvent', { type: 'mouseMoved', x: width - 10, y: 10 });
  await sleep(500);
  const { data } = await page('Page.captureScreenshot', { format: 'png' });
  writeFileSync(output, Buffer.from(data, 'base64'));
  console.log(`saved ${output}`);
} finally {
  socket.close();
  browser.kill();
  await sleep(500);
  rmSync(profile, { recursive: true, force: true });
}
