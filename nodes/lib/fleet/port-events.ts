import type { Device } from '../device';
import type { MdmAdapter } from '../mdm/mdm-adapter';
import { asDevice, type FleetEvents } from './fleet-events';
import type { DeviceRecord, FleetStore, HubPort } from './fleet-store';
import type { LedRouter } from './led-router';
import type { PortIdentifier } from './port-identity';
import type { PortWrites } from './port-writes';
import { missedEvents, type MissedEvent } from './reconcile';

/** What a dock or unplug can say about the phone on a port. */
export interface PortIdentity {
  /** The fleet's record of the phone: udid, serial, name, status, user, attributes. */
  device?: Device;
  /** Why the phone could not be identified. */
  reason?: string;
}

interface PortEventOptions {
  store: FleetStore;
  ports: PortIdentifier;
  writes: PortWrites;
  events: FleetEvents;
  leds: LedRouter;
  mdm: () => MdmAdapter | undefined;
  /** A phone was unplugged: its check-out's deadline and the lending period are looked at again. */
  unplugged(): void;
  /** A hub's reading was compared with the records: its check-outs' deadlines can be judged. */
  hubRead(): void;
  text: (key: string, vars?: Record<string, unknown>) => string;
  log: { info(message: string): void; warn(message: string): void };
}

/**
 * A hub's docks and unplugs as the fleet records them: which phone each is about (asked once
 * per event however many hub-input nodes listen), and after a start what happened while
 * Node-RED was away (each hub's first reading against the records).
 */
export class PortEvents {
  /** Hubs whose records are brought up to date with their config node (see `attach`). */
  private readonly updatedHubs = new Map<string, Promise<void>>();
  /** Hubs whose first reading was compared with the records (or is being). */
  private readonly reconciledHubs = new Set<string>();
  /** Hubs to compare again after the store was away: only docks and unplugs it may have lost count there. */
  private readonly afterOutage = new Set<string>();
  /** Hubs read since the start: only there can a deadline tell a phone still docked from one taken. */
  private readonly readHubs = new Set<string>();
  /** What each hub event was found to be about: every hub-input of that hub gets the same answer. */
  private readonly identities = new WeakMap<object, Promise<PortIdentity>>();

  constructor(private readonly options: PortEventOptions) {}

  hubRead(hubId: string): boolean {
    return this.readHubs.has(hubId);
  }

  /** Records and learnt USB locations that named the hub by its name only (before 0.2) are taken over. */
  attach(hub: { id: string; name: string }): void {
    // The store refuses: tried again at the next start.
    this.updatedHubs.set(
      hub.id,
      this.options.store.updateHub(hub.id, hub.name).catch((err: Error) => this.options.log.warn(err.message)),
    );
    this.options.ports.adoptHub(hub.id, hub.name);
  }

  /**
   * Which phone a hub's dock or unplug (`event`, the object the hub connection emitted) is about,
   * recorded once however many hub-input nodes listen to that hub: USB tells a phone's arrival
   * once, so a second node asking on its own would find nobody.
   */
  identifyEvent(event: { event: 'dock' | 'unplug' }, place: HubPort, missed?: boolean): Promise<PortIdentity> {
    let identity = this.identities.get(event);
    if (!identity) {
      identity = event.event === 'dock' ? this.identifyDock(place, missed) : this.recordUnplug(place);
      this.identities.set(event, identity);
    }
    return identity;
  }

  /**
   * The phone just docked on a port, once USB has told (within the window). `missed`: a dock
   * found by `reconcile`, told by the port's learnt USB location against usbmuxd's list (a port
   * not learnt yet: as any dock, a lone phone within the window).
   */
  async identifyDock(place: HubPort, missed?: boolean): Promise<PortIdentity> {
    const { ports, writes, store, events, mdm } = this.options;
    const found = await ports.identify(place, missed);
    if (!found.udid) return { reason: found.reason };
    return writes.record(async () => {
      const serial = mdm()?.enrolment(found.udid)?.serial ?? (await store.device(found.udid))?.serial;
      const device = asDevice(await store.docked(found.udid, { ...place, ...(serial && { serial }) }, { who: 'hub', why: 'docked' }));
      if (device.overdue) events.announce('returned-late', device);
      if (device.wrongCart) events.announce('wrong-cart', device, device.home);
      return { device };
    });
  }

  /** Records that the phone on a port was unplugged and says which it was; completes a check-out waiting for it. */
  recordUnplug(place: HubPort): Promise<PortIdentity> {
    const { ports, writes, store, leds, text, log } = this.options;
    const known = ports.unplug(place);
    return writes.record(async () => {
      const udid = known ?? (await store.deviceAt(place.hubId, place.port))?.udid;
      if (!udid) return { reason: text('device-fleet.errors.unplug-unknown') };
      const device = asDevice(await store.unplugged(udid, { who: 'hub', why: 'unplugged' }));
      this.options.unplugged();
      // "Off when removed": the port stays dark until the phone is checked in again.
      if (device.status === 'Checked Out') leds.setLed(device, 'off').catch((err: Error) => log.warn(err.message));
      return { device };
    });
  }

  /**
   * The store was away (a database failover can lose its newest commits): each hub is compared
   * with the records again at its next reading, for the docks and unplugs they may lack.
   */
  compareAgain(): void {
    for (const hub of this.reconciledHubs) this.afterOutage.add(hub);
    this.reconciledHubs.clear();
  }

  /**
   * After a start, compares the hub's first reading (`docked` ports) with the records and
   * hands `replay` each dock and unplug that happened meanwhile (or a Return left unfinished),
   * once; deadlines of this hub's check-outs are judged only after that.
   */
  async reconcile(hub: { id: string; name: string }, docked: number[], replay: (missed: MissedEvent) => void, unlocked: number[] = []): Promise<void> {
    const { writes, store, text, log } = this.options;
    if (!this.reconciledHubs.has(hub.id)) {
      this.reconciledHubs.add(hub.id);
      await this.updatedHubs.get(hub.id);
      let records: DeviceRecord[];
      try {
        records = await writes.record(() => store.devices());
      } catch (err) {
        // Not compared: the next reading compares it (else this hub's deadlines would never be judged).
        this.reconciledHubs.delete(hub.id);
        throw err;
      }
      // After an outage a Return still running here is not unfinished: only what the records lost is played.
      const outage = this.afterOutage.delete(hub.id);
      for (const missed of missedEvents(
        records.filter((d) => d.cart === store.cart),
        hub.id,
        docked,
        outage ? unlocked : [],
      ).filter((m) => !outage || m.why !== 'return not finished')) {
        log.info(text('device-fleet.errors.missed', { hub: hub.name, port: missed.port, event: missed.event, why: missed.why }));
        replay(missed);
      }
      this.readHubs.add(hub.id);
    }
    this.options.hubRead();
  }
}
