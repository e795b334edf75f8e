import type { MdmAdapter } from '../mdm/mdm-adapter';
import { asDevice, type FleetEvents } from './fleet-events';
import type { CheckoutRules, FleetStore } from './fleet-store';

/** How often the charge of docked phones below the battery threshold is read again. */
export const BATTERY_CHECK_MS = 15 * 60_000;
/** Docked and still below the threshold this long: `low-battery` (a port or cable that does not charge). */
export const LOW_BATTERY_MS = 2 * 3_600_000;

interface BatteryOptions {
  store: FleetStore;
  rules: CheckoutRules;
  events: FleetEvents;
  mdm: () => MdmAdapter | undefined;
  /** Aborted when the fleet closes: a charge being read gives up. */
  signal: AbortSignal;
  warn(message: string): void;
}

/**
 * A docked phone below the battery threshold is not handed out, and its charge was last read
 * at its check-in: it is read again every BATTERY_CHECK_MS, so a charged phone goes out again.
 * One still below the threshold after LOW_BATTERY_MS docked is announced as `low-battery`, once
 * per dock (a port or cable that does not charge). Known since this start: a restart counts anew.
 */
export class BatteryWatch {
  /** Docked phones below the threshold: since when (ms), and whether that was announced. */
  private readonly low = new Map<string, { since: number; announced: boolean }>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: BatteryOptions) {
    this.timer = setInterval(() => void this.check().catch((err: Error) => options.warn(err.message)), BATTERY_CHECK_MS).unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async check(): Promise<void> {
    const { store, rules, events, signal } = this.options;
    const mdm = this.options.mdm();
    if (!mdm) return;
    const now = Date.now();
    const low = (await store.devices()).filter(
      (d) => d.cart === store.cart && d.docked && d.status === 'Checked In' && d.battery !== undefined && d.battery < rules.batteryThreshold,
    );
    for (const udid of this.low.keys()) if (!low.some((d) => d.udid === udid)) this.low.delete(udid);
    for (const phone of low) {
      let record = phone;
      try {
        const { battery, serial } = await mdm.readDevice(phone.udid, { timeout: 30_000, signal });
        record = await store.reportHealth(phone.udid, battery, phone.healthy, serial);
      } catch {
        // not answering: judged on what it said last
      }
      if ((record.battery ?? 1) >= rules.batteryThreshold) {
        this.low.delete(phone.udid);
        continue;
      }
      const seen = this.low.get(phone.udid) ?? { since: now, announced: false };
      this.low.set(phone.udid, seen);
      if (seen.announced || now - seen.since < LOW_BATTERY_MS) continue;
      seen.announced = true;
      events.announce('low-battery', asDevice(record), `${Math.round((record.battery ?? 0) * 100)}%`);
    }
  }
}
