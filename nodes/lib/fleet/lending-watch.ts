import { renderTemplate } from '../attributes';
import type { CodedError } from '../coded-error';
import type { MdmAdapter, PerformOptions } from '../mdm/mdm-adapter';
import { disableLostMode, enableLostMode, type LostModeText } from '../mdm/commands';
import { DueTimes } from './due-times';
import { asDevice, type FleetEvents } from './fleet-events';
import type { Actor, CheckoutRules, DeviceRecord, FleetStore } from './fleet-store';

/** How long a Lost Mode command waits for a phone out of reach before leaving it queued at the MDM. */
const LOST_MODE_WAIT_MS = 3_600_000;
/** Apple's answer to DisableLostMode on a phone not in Lost Mode. */
const NOT_IN_LOST_MODE = 12067;

interface LendingOptions {
  store: FleetStore;
  rules: CheckoutRules;
  events: FleetEvents;
  mdm: () => MdmAdapter | undefined;
  /** What a lost phone's Lock Screen shows, with placeholders; undefined: no Lost Mode. */
  lostMode?: LostModeText;
  /** Aborted when the fleet closes: a Lost Mode command waiting for its phone gives up. */
  signal: AbortSignal;
  text: (key: string, vars?: Record<string, unknown>) => string;
  warn(message: string): void;
}

/** Phones out past the lending period: Overdue, said in the log and to the fleet's listeners, and sent into Lost Mode. */
export class LendingWatch {
  private readonly due: DueTimes<DeviceRecord & { checkedOutAt: string }>;

  constructor(private readonly options: LendingOptions) {
    const { store, rules, events, text, warn } = options;
    const lendingMs = (rules.lendingHours ?? 0) * 3_600_000;
    this.due = new DueTimes(
      async () => (lendingMs > 0 ? store.outstanding() : []),
      (record) => Date.parse(record.checkedOutAt) + lendingMs,
      async (record) => {
        const why = text('device-fleet.errors.overdue', { hours: rules.lendingHours });
        const overdue = await store.markOverdue(record.udid, record.checkedOutAt, { who: 'fleet', why });
        if (!overdue) return; // back (or out again) meanwhile
        warn(
          text('device-fleet.errors.overdue-phone', {
            device: overdue.name ?? overdue.serial ?? overdue.udid,
            user: overdue.userName ?? overdue.user ?? '?',
            since: record.checkedOutAt,
          }),
        );
        events.announce('overdue', asDevice(overdue), why);
        await this.enableLostMode(overdue.udid, { who: 'fleet', why });
      },
    );
    this.due.arm();
  }

  /** Reads the phones out again (one was taken or came back) and waits for the next to fall due. */
  arm(): void {
    this.due.arm();
  }

  close(): void {
    this.due.close();
  }

  /**
   * Sends the phone into Lost Mode with the fleet's texts (when it has them and an MDM),
   * recorded at once: a phone out of reach runs it once it reaches the MDM again, and its next
   * check-in lifts it first. A phone that refuses (not supervised) is said in the log
   * (LOST_MODE_REFUSED) and recorded as not in Lost Mode.
   */
  async enableLostMode(udid: string, actor: Actor): Promise<void> {
    const { store, lostMode, signal, text, warn } = this.options;
    const mdm = this.options.mdm();
    if (!lostMode || !mdm) return;
    const device = asDevice((await store.device(udid))!);
    const label = device.name ?? device.serial ?? udid;
    try {
      const empty: string[] = [];
      const shown = Object.fromEntries(
        Object.entries(lostMode)
          .filter(([, value]) => value)
          .map(([key, value]) => [key, renderTemplate(value as string, device, (missing) => empty.push(...missing)).trim()])
          .filter(([, value]) => value),
      );
      if (empty.length > 0) warn(text('device-fleet.errors.lost-mode-empty', { device: label, placeholders: empty.join(', ') }));
      const command = enableLostMode(shown);
      await store.setLostMode(udid, true, actor);
      mdm.perform(udid, command, { timeout: LOST_MODE_WAIT_MS, signal }).catch(async (err: CodedError) => {
        if (err.code !== 'DEVICE_ERROR') return; // not answered yet: it stays queued at the MDM
        warn(text('device-fleet.errors.lost-mode-refused', { device: label, message: err.message }));
        await store.setLostMode(udid, false, { who: 'fleet', why: `LOST_MODE_REFUSED: ${err.message}` }).catch((error: Error) => warn(error.message));
      });
    } catch (err) {
      warn(text('device-fleet.errors.lost-mode-not-sent', { device: label, message: (err as Error).message }));
    }
  }

  /** Takes the phone out of Lost Mode (one not in it any more counts as done: Apple's 12067) and records it. */
  async liftLostMode(udid: string, mdm: MdmAdapter, wait: PerformOptions, actor: Actor): Promise<void> {
    await mdm.perform(udid, disableLostMode(), wait).catch((err: CodedError) => {
      const chain = err.details?.errorChain as { ErrorCode?: number }[] | undefined;
      if (!chain?.some((e) => e.ErrorCode === NOT_IN_LOST_MODE)) throw err;
    });
    await this.options.store.setLostMode(udid, false, actor);
  }
}
