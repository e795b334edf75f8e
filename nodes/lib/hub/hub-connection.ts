import { EventEmitter } from 'node:events';
import type { ByteLink, LinkOpener } from './byte-link';
import { HubCli } from './hub-cli';
import { attachChanges, familyFromId, parseId, parseState, type AttachEvent, type HubFamily, type PortState } from './hub-state';
import { isLedState, LED_STATES, ledPlan, RGB_OVERRIDE_START, type LedModel, type LedState, type RowPatterns } from './led-plan';
import { catalogText, CodedError, errorCode } from '../coded-error';
import { reconnect, type RetryDelays } from '../reconnect';

export type HubModelSetting = 'auto' | LedModel;

export interface HubConnectionOptions {
  path: string;
  baudRate: number;
  /** Milliseconds between the starts of two `state` polls. */
  pollInterval: number;
  model: HubModelSetting;
  openLink: LinkOpener;
  /** How long one command may take before the hub counts as not answering. */
  commandTimeout?: number;
  /** Reconnect delays: doubling from `min` up to `max` milliseconds. */
  retry?: RetryDelays;
  /** Half-period of a driver-side blink on RGB hubs. */
  blinkInterval?: number;
  /** At most one warning of a kind (by code) this often, ms. */
  warningInterval?: number;
}

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected';

export interface HubStatus {
  status: ConnectionStatus;
  /** Why the hub is not connected (an error message, never a secret). */
  reason?: string;
  /** Ports with a device on them, as last seen. */
  docked: number;
}

export interface PortEvent {
  event: AttachEvent;
  port: number;
  /** ISO 8601 time the change was seen. */
  at: string;
  flags: string[];
  current_mA: number;
}

/** Consecutive poll timeouts after which the link is reopened. */
const TIMEOUTS_BEFORE_RECONNECT = 3;

/**
 * After green (badge accepted) the person at the cart waits for the next LED (flashing white):
 * polls hold back this long at most, so that LED never waits behind a `state` reply.
 */
const NEXT_LED_HOLD_MS = 1000;

/**
 * One smart hub on one serial path: polls `state`, turns attach changes into `dock` and
 * `unplug` events, drives LEDs, and reconnects with backoff. The last known port states
 * outlive a reconnect, so changes made while the cable was out arrive exactly once.
 *
 * Events: `status` (HubStatus), `dock` and `unplug` (PortEvent), `warning` (CodedError),
 * `baseline` (the docked ports of the first reading: what a user compares its records with).
 */
export class HubConnection extends EventEmitter {
  private readonly known = new Map<number, PortState>();
  /** The LED each port should show, `release` until the hub took it; re-sent after a reconnect or a hub reboot. */
  private readonly leds = new Map<number, LedState>();
  private readonly blinks = new Map<number, NodeJS.Timeout>();
  /** Per port, the LED plan being sent: the next waits, so two plans never interleave their rows. */
  private readonly ledQueues = new Map<number, Promise<void>>();
  /** Per port, the row patterns the hub holds as sent (fixed-colour hubs); forgotten on release, reconnect and reboot. */
  private readonly heldRows = new Map<number, RowPatterns>();
  /** Ports showing green whose next LED a person waits for, and since when (ms). */
  private readonly nextLedAwaited = new Map<number, number>();
  private resumePoll?: () => void;
  private current: HubStatus = { status: 'connecting', docked: 0 };
  private cli?: HubCli;
  private link?: ByteLink;
  private family: HubFamily = 'universal';
  private ledModel: LedModel = 'universal';
  private rgbOverride = false;
  private running?: Promise<void>;
  private closing = false;
  private wake?: () => void;
  private lastWarning?: string;
  private readonly warnedAt = new Map<string, number>();
  private baselined = false;

  constructor(private readonly options: HubConnectionOptions) {
    super();
  }

  get status(): HubStatus {
    return this.current;
  }

  /** Whether the hub has been read at least once: `dockedPorts()` then tells what is there. */
  get hasBaseline(): boolean {
    return this.baselined;
  }

  /** Ports with a device on them, in port order. */
  dockedPorts(): number[] {
    return [...this.known.values()]
      .filter((p) => p.attached)
      .map((p) => p.port)
      .sort((a, b) => a - b);
  }

  /** Ports whose LED was last asked to show one of `states` (flashing white: a phone unlocked for someone). */
  portsShowing(states: LedState[]): number[] {
    return [...this.leds].filter(([, state]) => states.includes(state)).map(([port]) => port);
  }

  start(): void {
    this.running ??= this.run();
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const port of [...this.blinks.keys()]) this.stopBlink(port);
    this.wake?.();
    this.resumePoll?.();
    await this.link?.close().catch(() => undefined);
    await this.running;
  }

  /**
   * Shows `state` on `port`. When the hub is not connected the LED is still remembered and
   * shown once it is, but the call fails with HUB_DISCONNECTED so the caller knows.
   */
  async setLed(port: number, state: string): Promise<void> {
    if (!isLedState(state)) throw new CodedError('INVALID_LED', catalogText('smart-hub.errors.unknown-led', { led: state, allowed: LED_STATES.join(', ') }));
    this.checkPort(port);
    this.stopBlink(port);
    // Remembered whatever the state: a hub that comes back gets the newest ask, release included.
    this.leds.set(port, state);
    this.awaitNextLed(port, state);
    const cli = this.cli;
    if (!cli || this.current.status !== 'connected') {
      throw new CodedError('HUB_DISCONNECTED', catalogText('smart-hub.errors.led-later', { path: this.options.path }));
    }
    const previous = this.ledQueues.get(port) ?? Promise.resolve();
    const sending = previous.then(() => this.applyLed(cli, port, state));
    const settled = sending.catch(() => undefined);
    this.ledQueues.set(port, settled);
    void settled.then(() => {
      if (this.ledQueues.get(port) === settled) this.ledQueues.delete(port);
    });
    await sending;
  }

  private checkPort(port: number): void {
    const highest = Math.max(0, ...this.known.keys());
    if (!Number.isInteger(port) || port < 1 || (highest > 0 && port > highest)) {
      throw new CodedError(
        'INVALID_PORT',
        highest
          ? catalogText('smart-hub.errors.no-such-port', { port: String(port), highest })
          : catalogText('smart-hub.errors.no-port-yet', { port: String(port) }),
      );
    }
  }

  private run(): Promise<void> {
    return reconnect(
      {
        closing: () => this.closing,
        // A hub whose port opens is there: it is retried promptly, however long it was away.
        session: (opened) => this.session(opened),
        status: (status) => this.setStatus(status),
        pause: (ms) => this.pause(ms),
      },
      this.options.retry,
    );
  }

  /** One open link, polled until it fails. */
  private async session(onOpened: () => void): Promise<void> {
    const { path, baudRate, pollInterval, commandTimeout = 1000 } = this.options;
    const link = await this.options.openLink(path, baudRate);
    this.link = link;
    onOpened();
    try {
      if (this.closing) return;
      const cli = new HubCli(link, commandTimeout);
      let timeouts = 0;
      // A hub on a busy host may answer late: it is asked again on the same link, as a poll is.
      for (;;) {
        try {
          await this.identify(cli);
          break;
        } catch (err) {
          if (errorCode(err) !== 'HUB_TIMEOUT' || ++timeouts >= TIMEOUTS_BEFORE_RECONNECT) throw err;
          this.warn(err as Error);
        }
        if (this.closing) return;
      }
      this.cli = cli;
      timeouts = 0;
      let connected = false;
      while (!this.closing) {
        const started = Date.now();
        try {
          await this.holdForAwaitedLeds();
          await this.poll(cli);
          timeouts = 0;
        } catch (err) {
          const code = errorCode(err);
          if (code === 'HUB_DISCONNECTED' || (code === 'HUB_TIMEOUT' && ++timeouts >= TIMEOUTS_BEFORE_RECONNECT)) throw err;
          this.warn(err as Error);
        }
        if (!connected && timeouts === 0) {
          connected = true;
          this.setStatus({ status: 'connected' });
          await this.applyAllLeds(cli);
        }
        await this.pause(pollInterval - (Date.now() - started));
      }
    } finally {
      this.cli = undefined;
      this.link = undefined;
      this.heldRows.clear();
      for (const port of [...this.blinks.keys()]) this.stopBlink(port);
      await link.close().catch(() => undefined);
    }
  }

  private async identify(cli: HubCli): Promise<void> {
    const id = parseId(await cli.command('id'));
    const family = familyFromId(id);
    if (!family) this.warn(new CodedError('HUB_UNKNOWN_FAMILY', catalogText('smart-hub.errors.unknown-family', { family: id.fc ?? '?' })));
    this.family = family ?? 'universal';
    const { model } = this.options;
    // ModIT-class hardware carries the RGB LEDs; every other family has fixed-colour rows.
    this.ledModel = model !== 'auto' ? model : /^modit/i.test(id.hw ?? '') ? 'rgb' : this.family;
    this.rgbOverride = false;
  }

  private async poll(cli: HubCli): Promise<void> {
    const state = parseState(await cli.command('state'), this.family);
    if (state.contradiction)
      return this.warn(new CodedError('HUB_CONTRADICTION', catalogText('smart-hub.errors.contradiction', { reason: state.contradiction })));
    for (const reason of state.rejected) this.warn(new CodedError('HUB_BAD_ROW', catalogText('smart-hub.errors.bad-row', { reason })));
    if (state.rebooted) {
      await cli.command('crf');
      this.warn(new CodedError('HUB_REBOOTED', catalogText('smart-hub.errors.rebooted')));
      this.rgbOverride = false;
      this.heldRows.clear();
      await this.applyAllLeds(cli);
    }
    const changes = attachChanges(this.known, state.ports);
    for (const port of state.ports) {
      const before = this.known.get(port.port);
      // In mode O the hub cannot see attachment: keep what was last known.
      this.known.set(port.port, port.detectable || !before ? port : { ...port, attached: before.attached });
    }
    const docked = this.dockedPorts().length;
    if (docked !== this.current.docked) this.setStatus({ ...this.current, docked });
    if (!this.baselined) {
      this.baselined = true;
      this.emit('baseline', this.dockedPorts());
    }
    const at = new Date().toISOString();
    for (const { event, port } of changes) {
      const payload: PortEvent = { event, port: port.port, at, flags: port.flags, current_mA: port.current_mA };
      this.emit(event, payload);
    }
  }

  private async applyAllLeds(cli: HubCli): Promise<void> {
    for (const [port, state] of this.leds) {
      await this.applyLed(cli, port, state).catch((err: Error) => this.warn(err));
    }
  }

  private async applyLed(cli: HubCli, port: number, state: LedState): Promise<void> {
    const plan = ledPlan(this.ledModel, port, state, this.heldRows.get(port));
    const commands = this.ledModel === 'rgb' && !this.rgbOverride ? [RGB_OVERRIDE_START, ...plan.commands] : plan.commands;
    // Until the hub confirms every row, what it holds is unknown: the next plan sends all rows.
    this.heldRows.delete(port);
    // Queued together and ahead of polls: the person at the cart waits on the LED, and no poll
    // (43 ms on a 16-port hub) slips in between its rows.
    await Promise.all(commands.map((command) => cli.command(command, true)));
    if (plan.rows) this.heldRows.set(port, plan.rows);
    if (commands[0] === RGB_OVERRIDE_START) this.rgbOverride = true;
    if (plan.blink) this.startBlink(cli, port, plan.blink);
    // Handed back to the firmware: nothing left to restore for this port.
    if (state === 'release' && this.leds.get(port) === 'release') this.leds.delete(port);
  }

  private awaitNextLed(port: number, state: LedState): void {
    if (state === 'granted') this.nextLedAwaited.set(port, Date.now());
    else if (this.nextLedAwaited.delete(port)) this.resumePoll?.();
  }

  /** Holds the next poll while a person waits on a port's next LED, at most NEXT_LED_HOLD_MS. */
  private async holdForAwaitedLeds(): Promise<void> {
    const due = Date.now();
    for (const [port, since] of this.nextLedAwaited) if (due - since >= NEXT_LED_HOLD_MS) this.nextLedAwaited.delete(port);
    while (!this.closing && this.nextLedAwaited.size > 0) {
      const left = due + NEXT_LED_HOLD_MS - Date.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resume, left);
        function resume(): void {
          clearTimeout(timer);
          resolve();
        }
        this.resumePoll = resume;
      });
    }
  }

  private startBlink(cli: HubCli, port: number, [on, off]: [string, string]): void {
    this.stopBlink(port);
    let lit = true;
    const timer = setInterval(() => {
      lit = !lit;
      cli.command(lit ? on : off).catch((err: Error) => this.warn(err));
    }, this.options.blinkInterval ?? 500);
    this.blinks.set(port, timer);
  }

  private stopBlink(port: number): void {
    clearInterval(this.blinks.get(port));
    this.blinks.delete(port);
  }

  private setStatus(next: Omit<HubStatus, 'docked'> & { docked?: number }): void {
    if (next.status !== this.current.status) this.lastWarning = undefined;
    this.current = { ...next, docked: next.docked ?? this.dockedPorts().length };
    this.emit('status', this.current);
  }

  /** Reports a problem once, not on every poll while it lasts, and one of a kind at most every `warningInterval`. */
  private warn(err: Error): void {
    if (err.message === this.lastWarning) return;
    const kind = errorCode(err) ?? err.message;
    const now = Date.now();
    if (now - (this.warnedAt.get(kind) ?? -Infinity) < (this.options.warningInterval ?? 60_000)) return;
    this.warnedAt.set(kind, now);
    this.lastWarning = err.message;
    this.emit('warning', err);
  }

  /** Waits `ms`, or less if the connection is closing. */
  private pause(ms: number): Promise<void> {
    if (this.closing || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
