import { catalogText, CodedError } from '../coded-error';
import { escapeHtml } from '../html-text';
import { holds } from './checkout-policy';
import { DEVICE_HOME, LAST_LOCATION, type AuditEntry, type DeviceRecord, type DeviceStatus } from './fleet-store';
import { userKey } from './person';

/** One line of the fleet view: what an admin or a charge nurse reads of a phone at a glance. */
export interface FleetRow {
  udid: string;
  /** The device-fleet config node the phone belongs to (the one answering for it). */
  fleet: string;
  name?: string;
  serial?: string;
  cart?: string;
  home?: string;
  hub?: string;
  port?: number;
  docked: boolean;
  status: DeviceStatus;
  user?: string;
  userName?: string;
  /** When its user took it, ISO 8601. */
  since?: string;
  /** 0 to 100. */
  battery?: number;
  overdue?: boolean;
  wrongCart?: boolean;
  /** Sent into Lost Mode (until its next check-in). */
  lostMode?: boolean;
  /** Why it last became Failed. */
  lastError?: string;
  /** Where it last said it was, in Lost Mode (Locate). */
  lastLocation?: string;
}

export function rowOf(fleet: string, record: DeviceRecord, lastError?: string): FleetRow {
  const { udid, name, serial, cart, hub, port, docked, status, user, userName, checkedOutAt, battery, overdue, wrongCart, lostMode } = record;
  const charge = battery === undefined ? undefined : Math.round(battery * 100);
  const row = {
    udid,
    fleet,
    name,
    serial,
    cart,
    home: record.attributes[DEVICE_HOME],
    hub,
    port,
    docked,
    status,
    user,
    userName,
    since: checkedOutAt,
    battery: charge,
    overdue,
    wrongCart,
    lostMode,
    lastError,
    lastLocation: record.attributes[LAST_LOCATION],
  };
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== undefined && value !== '')) as unknown as FleetRow;
}

/** Which audit entries an export holds: a time range (ISO 8601, `to` not included) and a device or a person. */
export interface AuditQuery {
  from?: string;
  to?: string;
  udid?: string;
  /** A person: entries by her, or naming her (her check-out's `user` change), however her id is written. */
  user?: string;
}

const LAST_DAY = Date.UTC(10000, 0, 1);
/** A day, or a day and a time with an optional zone: what ISO 8601 writes (not whatever Date.parse guesses at). */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Checks a query as it came from a URL: dates must be dates (INVALID_QUERY otherwise). */
export function auditQuery(raw: Record<string, unknown>): AuditQuery {
  const text = (name: string): string | undefined => (typeof raw[name] === 'string' && (raw[name] as string).trim() ? (raw[name] as string).trim() : undefined);
  const date = (name: string): string | undefined => {
    const value = text(name);
    if (value === undefined) return undefined;
    const at = ISO_DATE.test(value) ? Date.parse(value) : NaN;
    if (Number.isNaN(at)) throw new CodedError('INVALID_QUERY', catalogText('device-fleet.errors.not-a-date', { name }));
    // What a database and ISO 8601's four-digit years can hold; an audit trail starts after 1970.
    if (at < 0 || at >= LAST_DAY) throw new CodedError('INVALID_QUERY', catalogText('device-fleet.errors.date-range', { name }));
    return new Date(at).toISOString();
  };
  return { from: date('from'), to: date('to'), udid: text('udid'), user: text('user') };
}

/** The entries of `query`'s person, if it names one (the store has already kept to its device and time range). */
export function byPerson(entries: AuditEntry[], user?: string): AuditEntry[] {
  if (user === undefined) return entries;
  const person = userKey(user);
  const names = (value?: string): boolean => value !== undefined && userKey(value) === person;
  return entries.filter((e) => names(e.who) || names(e.from) || names(e.to));
}

const COLUMNS: (keyof AuditEntry)[] = ['at', 'udid', 'what', 'from', 'to', 'who', 'why'];

/** Each phone's name and serial by UDID: the audit trail keys phones by UDID, a person reading an export knows them by these. */
export type PhoneNames = Map<string, { name?: string; serial?: string }>;

export const phoneNamesOf = (records: { udid: string; name?: string; serial?: string }[]): PhoneNames =>
  new Map(records.map(({ udid, name, serial }) => [udid, { name, serial }]));

/**
 * RFC 4180 CSV with a header row; each row also names the phone (its name and serial now). A
 * cell a spreadsheet would run as a formula (a user name starting with `=`, `+`, `-`, `@`) is
 * prefixed with `'`: an export must not execute anything.
 */
export function auditCsv(entries: AuditEntry[], phones: PhoneNames = new Map()): string {
  return AUDIT_CSV_HEADER + auditCsvRows(entries, phones);
}

export const AUDIT_CSV_HEADER = [...COLUMNS, 'name', 'serial'].join(',') + '\r\n';

/** One CSV cell (RFC 4180), never a formula. */
export function csvCell(value: string | number | null | undefined): string {
  if (typeof value === 'number') return String(value);
  const text = value === undefined || value === null ? '' : /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** `auditCsv` without its header: the rows of one page of a streamed export. */
export function auditCsvRows(entries: AuditEntry[], phones: PhoneNames = new Map()): string {
  return entries.map((e) => [...COLUMNS.map((c) => e[c]), phones.get(e.udid)?.name, phones.get(e.udid)?.serial].map(csvCell).join(',') + '\r\n').join('');
}

export function auditJsonLines(entries: AuditEntry[]): string {
  return entries.map((e) => JSON.stringify(e)).join('\n') + (entries.length > 0 ? '\n' : '');
}

/** The phones someone holds (as her per-user limit counts them): Overdue first, then the longest out first. */
function outWithSomeone(rows: FleetRow[]): FleetRow[] {
  const out = rows.filter(holds);
  return out.sort((a, b) => Number(b.overdue === true) - Number(a.overdue === true) || (a.since ?? '\uffff').localeCompare(b.since ?? '\uffff'));
}

/** The texts of the ward page, in the reader's language. */
export interface WardTexts {
  title: string;
  empty: string;
  overdue: string;
  columns: { user: string; phone: string; cart: string; since: string };
  updated: string;
  /** The cart's readiness for its next shift change, in words ("7 of 10 phones ready at 07:00"), when it has shift changes. */
  readiness?: string;
}

/** `lang` where the runtime knows it as a language; else English. */
function knownLanguage(lang: string): string {
  try {
    return Intl.DateTimeFormat.supportedLocalesOf(lang)[0] ?? 'en';
  } catch {
    return 'en'; // not a language tag at all
  }
}

/**
 * The ward's bookmarkable list of checked-out phones: who has which phone since when, Overdue
 * first. One small page without scripts that a phone's browser shows well; it reloads itself
 * every 30 s.
 */
export function wardPage(rows: FleetRow[], texts: WardTexts, now: Date, lang: string, timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone): string {
  const out = outWithSomeone(rows);
  // The hospital's time (the host's zone), in the page's language (a catalog's language that is not one: English); the zone is named once, below.
  const local = new Intl.DateTimeFormat(knownLanguage(lang), {
    dateStyle: 'short',
    timeStyle: 'short',
    timeZone,
  });
  const time = (iso?: string): string => (iso ? `<time datetime="${escapeHtml(iso)}">${escapeHtml(local.format(new Date(iso)))}</time>` : '');
  const body =
    out.length === 0
      ? `<p>${escapeHtml(texts.empty)}</p>`
      : `<table><thead><tr><th>${escapeHtml(texts.columns.user)}</th><th>${escapeHtml(texts.columns.phone)}</th><th>${escapeHtml(texts.columns.cart)}</th><th>${escapeHtml(texts.columns.since)}</th></tr></thead><tbody>${out
          .map(
            (r) =>
              `<tr${r.overdue ? ' class="overdue"' : ''}><td>${escapeHtml(r.userName ?? r.user ?? '')}${r.overdue ? ` <strong>${escapeHtml(texts.overdue)}</strong>` : ''}</td><td>${escapeHtml(r.name ?? r.serial ?? r.udid)}</td><td>${escapeHtml(r.cart ?? r.hub ?? '')}</td><td>${time(r.since)}</td></tr>`,
          )
          .join('')}</tbody></table>`;
  return `<!DOCTYPE html>
<html lang="${escapeHtml(lang)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="refresh" content="30">
<title>${escapeHtml(texts.title)}</title>
<style>
body{font:16px/1.4 system-ui,sans-serif;margin:0;padding:12px;color:#222}
h1{font-size:20px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:8px 6px;border-bottom:1px solid #ddd;overflow-wrap:break-word}
th{font-size:13px;color:#555;white-space:nowrap}
tr.overdue td{background:#fde8e8}
strong{color:#b00020}
.readiness{margin:0 0 8px;font-weight:600}
footer{margin-top:8px;font-size:12px;color:#666}
</style></head>
<body><h1>${escapeHtml(texts.title)}</h1>${texts.readiness ? `<p class="readiness">${escapeHtml(texts.readiness)}</p>` : ''}${body}<footer>${escapeHtml(texts.updated)} ${time(now.toISOString())} (${escapeHtml(timeZone)})</footer></body></html>
`;
}
