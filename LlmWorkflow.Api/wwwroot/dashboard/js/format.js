// Formatting of API values for display.

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export function formatDate(value) {
  if (!value) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : dateTime.format(date);
}

export function formatDuration(ms) {
  if (ms == null) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds % 60)} s`;
}

export function formatTokens(n) {
  return n == null ? '—' : integer.format(n);
}

/** US dollars with enough decimals for fractions of a cent. */
export function formatCost(usd) {
  if (usd == null) return '—';
  const value = Number(usd);
  if (value === 0) return '$0.00';
  const digits = Math.abs(value) >= 1 ? 2 : Math.abs(value) >= 0.01 ? 4 : 6;
  return `$${value.toFixed(digits)}`;
}

export function formatJson(value) {
  return JSON.stringify(value, null, 2);
}

export function shortId(id) {
  // Job ids are UUIDv7 (time first), so the last characters are the distinctive ones.
  return id ? String(id).slice(-8) : '';
}

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
export const ACTIVE = new Set(['pending', 'queued', 'processing']);

export function isGuid(text) {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text.trim());
}

/** Retry re-runs a job from its checkpoints: worth it after a cancel or a failure that may go away on its own. */
export function retryCanHelp(job) {
  if (job.status === 'cancelled') return true;
  if (job.status !== 'failed') return false;
  if (job.error?.type === 'budget_exceeded') return false;
  return job.error?.retryable !== false || ['SYSTEM_ERROR', 'EXTERNAL_ERROR'].includes(job.error?.category);
}
