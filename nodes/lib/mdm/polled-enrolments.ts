import type { EventEmitter } from 'node:events';
import type { Enrolment } from './mdm-adapter';
import { pollUntil } from './polling';

/** When the MDM says the phone last enrolled (ms epoch), and its serial; undefined where it cannot tell now. */
export type EnrolledAt = (udid: string) => Promise<{ at: number; serial?: string } | undefined>;

/**
 * What enrolment and erasure taught an MDM that sends no check-ins here (Jamf Pro, Workspace
 * ONE, Intune): after an erase, asking about the phone starts reading its record until it shows
 * an enrolment since, then `token-update` is emitted on `events`, as a check-in would.
 */
export class PolledEnrolments {
  private readonly known = new Map<string, Enrolment>();
  private readonly watching = new Set<string>();

  constructor(
    private readonly events: EventEmitter,
    private readonly enrolledAt: EnrolledAt,
    private readonly interval: number,
    private readonly closed: () => boolean,
  ) {}

  /** The phone's entry, made when first asked. */
  of(udid: string): Enrolment {
    let known = this.known.get(udid);
    if (!known) this.known.set(udid, (known = { udid }));
    return known;
  }

  /** What is known; an erased phone not yet enrolled again is watched while anybody listens. */
  get(udid: string): Enrolment | undefined {
    const known = this.known.get(udid);
    if (known?.erasedAt && !(known.enrolledAt && known.enrolledAt >= known.erasedAt)) void this.watch(udid, known);
    return known;
  }

  private async watch(udid: string, known: Enrolment): Promise<void> {
    // Nobody waiting (a look at the record, not a wait): nothing to watch, and no watch left to block the next one.
    if (this.watching.has(udid) || this.events.listenerCount('token-update') === 0) return;
    this.watching.add(udid);
    try {
      const enrolled = await pollUntil(
        async () => {
          if (this.events.listenerCount('token-update') === 0) return null;
          const said = await this.enrolledAt(udid).catch(() => undefined);
          return said && said.at >= (known.erasedAt ?? Infinity) ? said : undefined;
        },
        { deadline: Infinity, interval: this.interval, closed: this.closed, timedOut: () => new Error('closed') },
      );
      if (enrolled === null) return;
      known.enrolledAt = enrolled.at;
      if (enrolled.serial) known.serial = enrolled.serial;
      this.events.emit('token-update', known);
    } catch {
      // Closed while watching: nobody waits any more.
    } finally {
      this.watching.delete(udid);
    }
  }
}
