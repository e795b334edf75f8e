import type { FleetEvents } from './fleet-events';
import type { CheckoutRules, DeviceRecord, FleetStore } from './fleet-store';
import { insightQuery } from './insights';

/**
 * How fast a docked phone charges when it has not shown its own rate yet, per hour (0 to 1): a
 * hub port's 0.5 A fills an iPhone's battery by about a fifth an hour.
 */
export const DEFAULT_CHARGE_PER_HOUR = 0.2;
/** A rate is read from two battery readings at least this far apart: closer ones are mostly rounding. */
const RATE_SPAN_MS = 5 * 60_000;

/** "HH:MM" times of day, comma or space separated: the shift changes. Undefined for a text that is not. */
export function shiftTimes(text: string): { hour: number; minute: number }[] | undefined {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  const times = parts.map((part) => /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(part));
  if (times.some((time) => !time)) return undefined;
  return times.map((time) => ({ hour: Number(time![1]), minute: Number(time![2]) })).sort((a, b) => a.hour * 60 + a.minute - (b.hour * 60 + b.minute));
}

/** The first shift change after `now`, on the host's clock. */
export function nextShiftChange(now: Date, shifts: { hour: number; minute: number }[]): Date {
  for (let day = 0; ; day++) {
    for (const { hour, minute } of shifts) {
      const at = new Date(now.getFullYear(), now.getMonth(), now.getDate() + day, hour, minute);
      if (at > now) return at;
    }
  }
}

/**
 * The check-outs expected from `now` to `until`: each hour of day's usual count (check-outs by
 * hour over `days` days, divided by them), a part hour by its part.
 */
export function expectedCheckouts(byHour: number[], days: number, now: Date, until: Date): number {
  let expected = 0;
  for (let at = now.getTime(); at < until.getTime();) {
    const hourStart = new Date(at);
    hourStart.setMinutes(0, 0, 0);
    const hourEnd = Math.min(hourStart.getTime() + 3_600_000, until.getTime());
    expected += (byHour[new Date(at).getHours()] / days) * ((hourEnd - at) / 3_600_000);
    at = hourEnd;
  }
  return expected;
}

export interface Readiness {
  /** Phones expected ready (docked, Checked In, charged to the threshold) at `at`, less the usual check-outs before. */
  ready: number;
  /** The phones docked at the cart now. */
  docked: number;
  at: Date;
}

/**
 * What a cart will have at the next shift change: each phone docked there now and free to hand
 * out, charged by then at its own rate (or DEFAULT_CHARGE_PER_HOUR) to `threshold`, less the
 * check-outs usual before it. Phones out are not counted back: a nurse may keep hers.
 */
export class ReadinessForecast {
  /** Each phone's last reading and the rate it charged at, per hour. */
  private readonly readings = new Map<string, { battery: number; at: number; rate?: number }>();

  /** Learns the phones' charge rates from their battery readings as they change. */
  observe(record: DeviceRecord, now: Date): void {
    if (record.battery === undefined || !record.docked) return void this.readings.delete(record.udid);
    const last = this.readings.get(record.udid);
    if (last && record.battery === last.battery) return;
    const span = last ? now.getTime() - last.at : 0;
    if (last && span < RATE_SPAN_MS) return;
    const rate = last && record.battery > last.battery ? (record.battery - last.battery) / (span / 3_600_000) : last?.rate;
    this.readings.set(record.udid, { battery: record.battery, at: now.getTime(), rate });
  }

  forecast(phones: DeviceRecord[], threshold: number, expected: number, now: Date, at: Date): Readiness {
    const docked = phones.filter((phone) => phone.docked);
    const charged = docked.filter((phone) => {
      if (phone.status !== 'Checked In' || !phone.healthy) return false;
      if (phone.battery === undefined) return true; // as a tap would hand it out
      const reading = this.readings.get(phone.udid);
      // Charging since its charge was read (not since now): that reading may be minutes old.
      const hours = (at.getTime() - (reading?.at ?? now.getTime())) / 3_600_000;
      return Math.min(1, phone.battery + (reading?.rate ?? DEFAULT_CHARGE_PER_HOUR) * hours) >= threshold;
    }).length;
    return { ready: Math.max(0, Math.floor(charged - expected)), docked: docked.length, at };
  }
}

/** How often a cart with shift changes asks itself whether the next one is short of phones. */
export const READINESS_CHECK_MS = 60_000;

export interface ReadinessOptions {
  store: FleetStore;
  rules: CheckoutRules;
  events: FleetEvents;
  /** The shift changes, on the host's clock. */
  shifts: { hour: number; minute: number }[];
  /** Fewer phones than this expected ready at a shift change: `low-stock`; 0: never. */
  minimum: number;
  /** How long before the shift change it is raised, ms. */
  leadMs: number;
  text: (key: string, vars?: Record<string, unknown>) => string;
  warn(message: string): void;
}

/**
 * A cart's readiness for its next shift change (the ward page's line), and `low-stock` raised
 * once per shift change, `leadMs` before it, when fewer than `minimum` phones are expected
 * ready: time to move phones or chargers. Checked at the start and each minute. Charge rates are
 * learnt from the battery readings since this start; a restart may raise the same shift change again.
 */
export class ReadinessWatch {
  private readonly model = new ReadinessForecast();
  private readonly timer: NodeJS.Timeout;
  private readonly first: NodeJS.Immediate;
  /** The shift change `low-stock` was raised for, ms. */
  private raisedFor?: number;
  private readonly onChange = (record: DeviceRecord): void => this.model.observe(record, new Date());

  constructor(private readonly options: ReadinessOptions) {
    options.store.on('change', this.onChange);
    const check = () => void this.check().catch((err: Error) => options.warn(err.message));
    this.timer = setInterval(check, READINESS_CHECK_MS).unref();
    // Started within the hour ahead (a restart, a redeploy): known at once, not a minute later.
    this.first = setImmediate(check);
  }

  close(): void {
    clearInterval(this.timer);
    clearImmediate(this.first);
    this.options.store.off('change', this.onChange);
  }

  /** Fewer phones than this expected ready: `low-stock` (0: never). */
  get minimum(): number {
    return this.options.minimum;
  }

  /** The phones of this cart expected ready at its next shift change. */
  async forecast(now = new Date()): Promise<Readiness> {
    const { store, rules, shifts } = this.options;
    const at = nextShiftChange(now, shifts);
    const here = (await store.devices()).filter((record) => store.cart === undefined || record.cart === store.cart);
    const week = insightQuery('7d', now, Intl.DateTimeFormat().resolvedOptions().timeZone, store.cart);
    const expected = expectedCheckouts(await store.checkoutsByHour(week), 7, now, at);
    return this.model.forecast(here, rules.batteryThreshold, expected, now, at);
  }

  private async check(): Promise<void> {
    const { store, shifts, minimum, leadMs, events, text, warn } = this.options;
    const now = new Date();
    const next = nextShiftChange(now, shifts).getTime();
    if (minimum === 0 || next - now.getTime() > leadMs || this.raisedFor === next) return;
    const { ready, docked, at } = await this.forecast(now);
    if (ready >= minimum) return;
    this.raisedFor = next;
    const shift = at.toTimeString().slice(0, 5);
    const why = text('device-fleet.errors.low-stock', { ready, minimum, shift, cart: store.cart ?? '' });
    warn(why);
    events.announceStock({ ...(store.cart !== undefined && { cart: store.cart }), shift: at.toISOString(), ready, minimum, docked }, why);
  }
}
