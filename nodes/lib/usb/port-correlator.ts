import { catalogText, say } from '../coded-error';

/** Where a dock happened: one port of one hub, the hub named by its config node's id (names repeat and change). */
export interface PortKey {
  hubId: string;
  port: number;
}

export type Resolution = { udid: string; reason?: undefined } | { udid?: undefined; reason: string };

interface PendingDock extends PortKey {
  at: number;
  resolve(resolution: Resolution): void;
  timer: NodeJS.Timeout;
}

interface Attach {
  udid: string;
  locationId?: number;
  at: number;
  /** Seen beside other docks and attaches: only its location can place it now. */
  contested: boolean;
}

export interface CorrelatorOptions {
  /** How far apart a dock and an attach may be and still belong together, ms. */
  windowMs: number;
  /** Port -> USB location, learnt from unambiguous docks and kept across restarts. */
  locations: Map<string, number>;
  /** Called when a new port -> location pair is learnt, to persist it. */
  onLearn?: (locations: Map<string, number>) => void;
  /** Called when usbmuxd saw phone `udid` at a port's location but the hub saw no dock there. */
  onDisagreement?: (udid: string, port: PortKey) => void;
  now?: () => number;
}

/** How ports are keyed, also in the learnt locations file. */
export const keyOf = ({ hubId, port }: PortKey): string => `${hubId}#${port}`;

/**
 * Which phone is on which port: the hub sees a dock on port P, usbmuxd an Attached for
 * UDID U; within the window they belong together. A port whose USB location is known binds
 * at once. A port seen for the first time binds only when its dock and one attach were alone
 * in the window, and then its location is learnt. Anything else is unresolved, with the
 * reason: never a guess.
 */
export class PortCorrelator {
  private readonly pending = new Map<string, PendingDock>();
  private readonly attaches: Attach[] = [];
  private readonly recentDocks: (PortKey & { at: number })[] = [];
  private readonly bound = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly options: CorrelatorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The phone last bound to this port, while it is docked. */
  udidAt(port: PortKey): string | undefined {
    return this.bound.get(keyOf(port));
  }

  /** The hub saw a dock: resolves with the phone, or why it cannot be told, within the window. */
  dock(port: PortKey): Promise<Resolution> {
    const key = keyOf(port);
    this.pending.get(key)?.resolve({ reason: say(catalogText('device-fleet.errors.docked-again')) });
    const at = this.now();
    this.recentDocks.push({ ...port, at });
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.decide(key), this.options.windowMs);
      this.pending.set(key, {
        ...port,
        at,
        timer,
        resolve: (resolution) => {
          clearTimeout(timer);
          this.pending.delete(key);
          if (resolution.udid) this.bound.set(key, resolution.udid);
          resolve(resolution);
        },
      });
      this.matchByLocation();
    });
  }

  /**
   * A phone found on a port at a start, with no dock seen: the port's learnt USB location,
   * matched against the phones usbmuxd lists now, tells which one it is. Undefined for a port
   * whose location is not learnt yet: then only `dock` can tell (a lone phone within the window).
   */
  present(port: PortKey, listed: { udid: string; locationId?: number }[]): Resolution | undefined {
    const key = keyOf(port);
    const location = this.options.locations.get(key);
    if (location === undefined) return undefined;
    const phone = listed.find((d) => d.locationId === location);
    if (!phone) return { reason: say(catalogText('device-fleet.errors.not-at-location')) };
    this.bound.set(key, phone.udid);
    return { udid: phone.udid };
  }

  /** The hub saw an unplug: the port is free, and says who left. */
  unplug(port: PortKey): string | undefined {
    const key = keyOf(port);
    this.pending.get(key)?.resolve({ reason: say(catalogText('device-fleet.errors.unplugged-early')) });
    const udid = this.bound.get(key);
    this.bound.delete(key);
    return udid;
  }

  /**
   * usbmuxd saw a phone arrive. `listed`: it was already there when the list was read (a
   * start or a reconnect); a dock may still claim it, but no dock is owed for it.
   */
  attach(udid: string, locationId: number | undefined, listed = false): void {
    this.prune();
    const attach = { udid, locationId, at: this.now(), contested: false };
    this.attaches.push(attach);
    this.matchByLocation();
    const port = locationId === undefined ? undefined : this.portOfLocation(locationId);
    if (!port || listed) return;
    // The hub polls: give its dock the window to show up before calling it a disagreement.
    setTimeout(() => {
      if (this.attaches.includes(attach) && ![...this.bound.values()].includes(udid)) {
        this.options.onDisagreement?.(udid, port);
      }
    }, this.options.windowMs).unref();
  }

  /**
   * usbmuxd saw a phone leave. Its port keeps the binding until the hub reports the unplug
   * (usbmuxd is usually the quicker of the two), so the unplug can still say who left.
   */
  detach(udid: string): void {
    const index = this.attaches.findIndex((a) => a.udid === udid);
    if (index >= 0) this.attaches.splice(index, 1);
  }

  close(): void {
    for (const dock of this.pending.values()) dock.resolve({ reason: 'closed' });
  }

  private portOfLocation(locationId: number): PortKey | undefined {
    for (const [key, location] of this.options.locations) {
      if (location !== locationId) continue;
      const split = key.lastIndexOf('#');
      return { hubId: key.slice(0, split), port: Number(key.slice(split + 1)) };
    }
    return undefined;
  }

  /** Pending docks whose port has a known location take the attach at that location. */
  private matchByLocation(): void {
    for (const [key, dock] of this.pending) {
      const location = this.options.locations.get(key);
      if (location === undefined) continue;
      const attach = this.attaches.find((a) => a.locationId === location && Math.abs(a.at - dock.at) <= this.options.windowMs);
      if (!attach) continue;
      this.attaches.splice(this.attaches.indexOf(attach), 1);
      dock.resolve({ udid: attach.udid });
    }
  }

  /** The window of a dock without a known location closed: bind only if nothing else was near. */
  private decide(key: string): void {
    const dock = this.pending.get(key);
    if (!dock) return;
    const near = (at: number) => Math.abs(at - dock.at) <= this.options.windowMs;
    const candidates = this.attaches.filter((a) => near(a.at) && (a.locationId === undefined || this.portOfLocation(a.locationId) === undefined));
    const rivals = this.recentDocks.filter((d) => keyOf(d) !== key && near(d.at) && !this.options.locations.has(keyOf(d)));
    if (candidates.length === 1 && rivals.length === 0 && !candidates[0].contested) {
      const [attach] = candidates;
      this.attaches.splice(this.attaches.indexOf(attach), 1);
      if (attach.locationId !== undefined) {
        this.options.locations.set(key, attach.locationId);
        this.options.onLearn?.(this.options.locations);
      }
      return dock.resolve({ udid: attach.udid });
    }
    for (const attach of candidates) attach.contested = true;
    const seconds = this.options.windowMs / 1000;
    const reason =
      candidates.length === 0
        ? catalogText('device-fleet.errors.no-phone-on-usb', { seconds })
        : catalogText('device-fleet.errors.usb-ambiguous', { docks: rivals.length + 1, phones: candidates.length, seconds });
    dock.resolve({ reason: say(reason) });
  }

  /** Forgets attaches and docks too old to matter. */
  private prune(): void {
    const horizon = this.now() - 2 * this.options.windowMs;
    for (let i = this.attaches.length - 1; i >= 0; i--) if (this.attaches[i].at < horizon) this.attaches.splice(i, 1);
    while (this.recentDocks.length > 0 && this.recentDocks[0].at < horizon) this.recentDocks.shift();
  }
}
