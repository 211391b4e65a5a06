// Locale-aware formatting of what the server sends: money in minor units (fen), dates, numbers.
import { i18n } from './i18n.js';

const cache = new Map();
function nf(opts) {
  const loc = i18n.global.locale.value;
  const key = loc + JSON.stringify(opts);
  if (!cache.has(key)) cache.set(key, new Intl.NumberFormat(loc, opts));
  return cache.get(key);
}
function df(opts) {
  const loc = i18n.global.locale.value;
  const key = 'd' + loc + JSON.stringify(opts);
  if (!cache.has(key)) cache.set(key, new Intl.DateTimeFormat(loc, opts));
  return cache.get(key);
}

export function money(minor, currency = 'CNY', { compact = false } = {}) {
  if (minor === null || minor === undefined) return '—';
  const v = Number(minor) / 100;
  if (compact) return nf({ style: 'currency', currency, currencyDisplay: 'narrowSymbol', notation: 'compact', maximumFractionDigits: 1 }).format(v);
  const whole = Number.isInteger(v);
  return nf({ style: 'currency', currency, currencyDisplay: 'narrowSymbol', minimumFractionDigits: whole ? 0 : 2, maximumFractionDigits: 2 }).format(v);
}
export function num(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return nf({ maximumFractionDigits: digits }).format(n);
}
export function pct(n, digits = 0) {
  // n is a percentage (30 = 30 %) as the server sends win rates; fractions (0.3) via pctFrac.
  if (n === null || n === undefined) return '—';
  return nf({ style: 'percent', maximumFractionDigits: digits }).format(Number(n) / 100);
}
export function pctFrac(f, digits = 0) {
  if (f === null || f === undefined) return '—';
  return nf({ style: 'percent', maximumFractionDigits: digits }).format(Number(f));
}
// 'YYYY-MM-DD' is a calendar date: no time-zone shift.
export function parseDate(s) {
  if (!s) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  return m ? new Date(+m[1], +m[2] - 1, +m[3]) : new Date(s);
}
export function date(s) {
  const d = parseDate(s);
  return d ? df({ year: 'numeric', month: 'short', day: 'numeric' }).format(d) : '—';
}
export function dateTime(s) {
  if (!s) return '—';
  return df({ year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(new Date(s));
}
export function isoDate(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
export function relDays(s) {
  const d = parseDate(s);
  if (!d) return '';
  const today = new Date(); today.setHours(0, 0, 0, 0);
  const x = new Date(d); x.setHours(0, 0, 0, 0);
  const diff = Math.round((x - today) / 86400000);
  return new Intl.RelativeTimeFormat(i18n.global.locale.value, { numeric: 'auto' }).format(diff, 'day');
}

// Text for an HTML string (ECharts renders a tooltip formatter's result as HTML): what a user
// typed (a stage label, a name) must show as text, never become markup.
export function escapeHtml(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
