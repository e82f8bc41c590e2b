// Formatting of API values for display.

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export function formatDate(value) {
  if (!value) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : dateTime.format(date);
}

const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const dayAndTime = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const dayOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

/**
 * A time for a table cell, one short line: today's as a time, this year's as day and minute, older ones as a date.
 * The full time is the cell's title (formatDate), so nothing is lost by the narrow column.
 */
export function formatShortDate(value, now = new Date()) {
  if (!value) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  if (date.toDateString() === now.toDateString()) return timeOnly.format(date);
  return (date.getFullYear() === now.getFullYear() ? dayAndTime : dayOnly).format(date);
}

/** A <time> element for a table cell: the short form shown, the full one on hover and to assistive technology. */
export function timeCell(h, value) {
  return value ? h('time', { datetime: value, title: formatDate(value) }, formatShortDate(value)) : '—';
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
