import type { AttachEvent } from '../hub/hub-state';
import type { DeviceRecord, DeviceStatus } from './fleet-store';

/** A dock or unplug that happened while nobody watched, or that must be played again. */
export interface MissedEvent {
  event: AttachEvent;
  port: number;
  why: 'unplugged while away' | 'docked while away' | 'return not finished' | 'check-out lost';
}

/** A docked phone with one of these was docked but its Return did not finish (a kill, a redeploy, a failed step). */
const UNFINISHED: DeviceStatus[] = ['Checked Out', 'Returning', 'Failed'];

/**
 * Compares what the fleet recorded for one hub with what the hub reads now (`docked`: the
 * ports with a phone on them), after a start. Each difference is the event it stands for: a
 * recorded phone whose port is empty was unplugged (that completes a waiting check-out), a
 * phone on a port with no record was docked, and a docked phone still counted as out (or
 * Failed) owes its Return; so does a docked phone its port's LED shows unlocked for a tap
 * (`unlocked`) that the records do not have (a database failover lost it). Played once, the
 * records agree and the same reading yields nothing.
 */
export function missedEvents(records: DeviceRecord[], hubId: string, docked: number[], unlocked: number[] = []): MissedEvent[] {
  const here = records.filter((d) => d.docked && d.hubId === hubId && d.port !== undefined);
  const present = new Set(docked);
  const missed: MissedEvent[] = here.filter((d) => !present.has(d.port!)).map((d) => ({ event: 'unplug', port: d.port!, why: 'unplugged while away' }));
  for (const port of docked) {
    const recorded = here.find((d) => d.port === port);
    if (!recorded) missed.push({ event: 'dock', port, why: 'docked while away' });
    else if (UNFINISHED.includes(recorded.status)) missed.push({ event: 'dock', port, why: 'return not finished' });
    // Unlocked for a tap (its LED says so) that the records no longer have: locked again by its Return.
    else if (unlocked.includes(port) && recorded.status !== 'Checking Out') missed.push({ event: 'dock', port, why: 'check-out lost' });
  }
  return missed;
}
