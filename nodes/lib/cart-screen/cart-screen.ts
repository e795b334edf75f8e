import type { DeviceRecord } from '../fleet/fleet-store';

/** One port of the cart as the screen draws it. */
export interface PortTile {
  hub: string;
  port: number;
  /** The phone's name, or its serial. */
  phone?: string;
  /** 0 to 100. */
  battery?: number;
  status: string;
  /** Ready to hand out now: Checked In, healthy, charged enough. */
  ready: boolean;
  /** Whom an unlocked phone waits for. */
  waitingFor?: string;
}

/** Where a person's phone is, as a refusal tells her. */
export interface Place {
  cart?: string;
  hub?: string;
  port?: number;
}

/** What the screen shows, apart from its port grid. */
export type ScreenState =
  | { kind: 'idle' }
  | { kind: 'welcome'; name: string; hub?: string; port?: number; deadline: string }
  | { kind: 'taken'; name: string }
  | { kind: 'refused'; code: string; name?: string; held?: Place; minutes?: number; charging?: boolean }
  | { kind: 'message'; text: string };

/** What a screen receives: its state, the ports, the beeps to sound with it (once), and the server's clock for countdowns. */
export interface ScreenView {
  state: ScreenState;
  ports: PortTile[];
  /** Sounded when this view arrives (not when a screen reconnects to it). */
  beeps?: number;
  /** Changes with every view: a screen sounds a view's beeps once. */
  seq: number;
  now: string;
}

/**
 * How many beeps a person hears for an answer, as the commercial anchors beep: one accepted,
 * two badge (or sign-in) not accepted, three no phone available, four already has a phone.
 */
const BEEPS: Record<string, number> = { NO_DEVICE_AVAILABLE: 3, USER_HAS_DEVICE: 4 };
const REFUSED_BEEPS = 2;

/** The longest admin's message a screen shows (it must be read at a glance). */
export const MAX_SCREEN_MESSAGE = 500;

/** How long an answer stays before the screen returns to idle, ms. */
export const SHOWN_MS = { taken: 6_000, refused: 10_000 };

export interface CartScreenOptions {
  /** Whether a device record belongs on this cart's screen (docked here). */
  here(record: DeviceRecord): boolean;
  /** Below this (0 to 1) a phone is charging, not ready. */
  batteryThreshold: number;
  now?: () => number;
}

/**
 * The cart's screen as the cart sees it, with no page or HTTP in it: what a person at the cart
 * is told (idle, her name and the port to take a phone from with its deadline, the end when she
 * took it, a refusal, an admin's message) and the grid of the cart's ports. Every change is a
 * new view to the screens that follow it.
 */
export class CartScreen {
  private state: ScreenState = { kind: 'idle' };
  private readonly tiles = new Map<string, PortTile & { udid: string }>();
  /** The check-out waiting for its phone to be taken: what the screen returns to after someone else's refusal. */
  private waiting?: { udid: string; welcome: ScreenState & { kind: 'welcome' } };
  private seq = 0;
  private beeps?: number;
  private timer?: NodeJS.Timeout;
  /** An admin's message over whatever is shown, until it ends. */
  private message?: { text: string; timer: NodeJS.Timeout };
  private readonly listeners = new Set<(view: ScreenView) => void>();
  /** Check-out nodes that take the screen's sign-ins, the first one first. */
  private readonly signIns = new Map<string, (user: string, password: string) => void>();
  private readonly now: () => number;

  constructor(private readonly options: CartScreenOptions) {
    this.now = options.now ?? Date.now;
  }

  view(): ScreenView {
    const ports = [...this.tiles.values()].sort((a, b) => a.hub.localeCompare(b.hub) || a.port - b.port).map(({ udid: _udid, ...tile }) => tile);
    const state = this.message ? ({ kind: 'message', text: this.message.text } as const) : this.state;
    return { state, ports, seq: this.seq, now: new Date(this.now()).toISOString(), ...(this.beeps && { beeps: this.beeps }) };
  }

  /** Follows the screen: `listener` gets every new view; returns what stops it. */
  follow(listener: (view: ScreenView) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** A check-out node takes the sign-ins made on the screen (the first of several does); returns what stops it. */
  takeSignIns(node: string, run: (user: string, password: string) => void): () => void {
    this.signIns.set(node, run);
    return () => void this.signIns.delete(node);
  }

  /** A sign-in made on the screen, handed to the fleet's check-out node; false when the fleet has none. */
  signIn(user: string, password: string): boolean {
    const run = this.signIns.values().next().value;
    run?.(user, password);
    return run !== undefined;
  }

  /** A check-out began: her name, where to take the phone, until when. One beep. */
  accepted(name: string, device: { udid: string; hub?: string; port?: number; deadline?: string }): void {
    const welcome = { kind: 'welcome', name, hub: device.hub, port: device.port, deadline: device.deadline ?? new Date(this.now()).toISOString() } as const;
    this.waiting = { udid: device.udid, welcome };
    this.show(welcome, 1);
  }

  /** A tap or sign-in was refused, or a check-out failed: said in words (the page's), with its beeps. */
  refused(code: string, context: { name?: string; held?: Place; minutes?: number } = {}): void {
    if (code === 'UNPLUG_TIMEOUT' || code === 'UNLOCK_FAILED') this.waiting = undefined;
    const charging = code === 'NO_DEVICE_AVAILABLE' ? this.charging() : undefined;
    this.show({ kind: 'refused', code, ...context, ...(charging !== undefined && { charging }) }, BEEPS[code] ?? REFUSED_BEEPS, SHOWN_MS.refused);
  }

  /** An admin's message (the cart-display node), over whatever is shown, for `seconds`. */
  showMessage(text: string, seconds: number): void {
    if (this.message) clearTimeout(this.message.timer);
    const timer = setTimeout(() => {
      this.message = undefined;
      this.changed();
    }, seconds * 1000);
    timer.unref?.();
    this.message = { text, timer };
    this.changed();
  }

  /** A device record changed (or was read at the start): the grid follows; the awaited phone taken ends the welcome. */
  deviceChanged(record: DeviceRecord): void {
    const before = JSON.stringify(this.tiles.get(record.udid) ?? null);
    if (this.options.here(record) && record.docked && record.port !== undefined) {
      const isWaiting = record.status === 'Checking Out';
      this.tiles.set(record.udid, {
        udid: record.udid,
        hub: record.hub ?? '',
        port: record.port,
        phone: record.name ?? record.serial,
        status: record.status,
        ...(record.battery !== undefined && { battery: Math.round(record.battery * 100) }),
        ready: record.status === 'Checked In' && record.healthy && (record.battery ?? 1) >= this.options.batteryThreshold,
        ...(isWaiting && { waitingFor: record.userName ?? record.user }),
      });
    } else {
      this.tiles.delete(record.udid);
    }
    const { waiting } = this;
    if (waiting?.udid === record.udid && record.status !== 'Checking Out') {
      // Taken: she is told so; anything else (failed, returned) is said by the refusal that caused it.
      this.waiting = undefined;
      if (record.status === 'Checked Out') return this.show({ kind: 'taken', name: waiting.welcome.name }, undefined, SHOWN_MS.taken);
    }
    if (JSON.stringify(this.tiles.get(record.udid) ?? null) !== before) {
      this.changed();
    }
  }

  close(): void {
    clearTimeout(this.timer);
    if (this.message) clearTimeout(this.message.timer);
    this.listeners.clear();
    this.signIns.clear();
  }

  /** No phone ready, but some checked in are short of charge only. */
  private charging(): boolean {
    return [...this.tiles.values()].some((tile) => tile.status === 'Checked In' && (tile.battery ?? 100) < this.options.batteryThreshold * 100);
  }

  private show(state: ScreenState, beeps?: number, backToIdleMs?: number): void {
    clearTimeout(this.timer);
    this.state = state;
    if (backToIdleMs !== undefined) {
      // Back to idle, or to the welcome of a phone still waiting for its person (someone else was refused meanwhile).
      this.timer = setTimeout(() => this.show(this.waiting?.welcome ?? { kind: 'idle' }), backToIdleMs);
      this.timer.unref?.();
    }
    this.changed(beeps);
  }

  private changed(beeps?: number): void {
    this.seq++;
    this.beeps = beeps;
    const view = this.view();
    for (const listener of this.listeners) listener(view);
  }
}
