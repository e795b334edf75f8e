import type { Device } from '../device';
import { DueTimes } from './due-times';
import { asDevice, type FleetEvents } from './fleet-events';
import type { CheckoutRules, FleetStore, Pending, PendingCheckout } from './fleet-store';
import type { LedRouter } from './led-router';
import type { PortWrites } from './port-writes';

/** A check-out whose phone was not unplugged in time, for the node that started it. */
export type ExpiredCheckout = { device: Device; checkout: PendingCheckout };

interface DeadlineOptions {
  store: FleetStore;
  rules: CheckoutRules;
  writes: PortWrites;
  events: FleetEvents;
  leds: LedRouter;
  /** Whether the hub was read since the start: only then can a deadline tell a phone still docked from one taken. */
  hubRead(hubId: string): boolean;
  text: (key: string, vars?: Record<string, unknown>) => string;
  warn(message: string): void;
}

/**
 * Check-outs not completed by an unplug in time: Failed, amber LED, `failed` to the fleet's
 * listeners, and a failure for the node that started them (kept until that node is running
 * again after a restart).
 */
export class CheckoutDeadlines {
  private readonly due: DueTimes<Pending>;
  private readonly watchers = new Map<string, (expired: ExpiredCheckout) => void>();
  /** Expired check-outs whose node is not running (yet): handed over when it watches. */
  private readonly undelivered = new Map<string, ExpiredCheckout[]>();

  constructor(options: DeadlineOptions) {
    const { store, rules, writes, events, leds, text, warn } = options;
    this.due = new DueTimes(
      () => store.pendingCheckouts(),
      (record) => Date.parse(record.checkout.deadline),
      async (record) => {
        const why = text('device-fleet.errors.unplug-timeout', { seconds: rules.deadlineSeconds });
        // Judged behind the port events seen before it: an unplug the hub saw while the database
        // was away is recorded first, so the phone in her hand completes its check-out.
        const failed = await writes.record(() => store.expireCheckout(record.udid, record.checkout.deadline, { who: 'fleet', why }));
        if (!failed) return; // unplugged (or changed) meanwhile
        const device = asDevice(failed);
        events.announce('failed', device, why);
        leds.setLed(device, 'error').catch((err: Error) => warn(err.message));
        this.deliver({ device, checkout: record.checkout });
      },
      { canJudge: (record) => record.hubId !== undefined && options.hubRead(record.hubId) },
    );
    this.due.arm();
  }

  /** Reads the pending check-outs again (one began or ended, a hub was read) and waits for the next. */
  arm(): void {
    this.due.arm();
  }

  /** Hands `node` the check-outs it started that ran out of time, also those from before a restart. */
  watch(node: string, onExpired: (expired: ExpiredCheckout) => void): () => void {
    this.watchers.set(node, onExpired);
    const waiting = this.undelivered.get(node) ?? [];
    this.undelivered.delete(node);
    waiting.forEach(onExpired);
    return () => {
      if (this.watchers.get(node) === onExpired) this.watchers.delete(node);
    };
  }

  close(): void {
    this.due.close();
  }

  private deliver(expired: ExpiredCheckout): void {
    const node = expired.checkout.node ?? '';
    const watcher = this.watchers.get(node);
    if (watcher) return watcher(expired);
    this.undelivered.set(node, [...(this.undelivered.get(node) ?? []), expired]);
  }
}
