import { join } from 'node:path';
import { CartScreen, type Place } from '../cart-screen/cart-screen';
import { CodedError } from '../coded-error';
import type { Device } from '../device';
import type { HubConnection } from '../hub/hub-connection';
import type { LedState } from '../hub/led-plan';
import type { AssignedUser, MdmAdapter, PerformOptions } from '../mdm/mdm-adapter';
import type { LostModeText } from '../mdm/commands';
import type { LockdownSession } from '../usb/lockdown';
import type { Directory } from '../directory/directory';
import { BatteryWatch } from './battery-watch';
import { holds } from './checkout-policy';
import { CheckoutDeadlines, type ExpiredCheckout } from './checkout-deadlines';
import { FileFleetStore } from './file-fleet-store';
import { asDevice, FleetEvents, type FleetEvent } from './fleet-events';
import type { Actor, CheckoutRules, DeviceRecord, FleetStore, HubPort, PendingCheckout } from './fleet-store';
import { LedRouter } from './led-router';
import { LendingWatch } from './lending-watch';
import { ReadinessWatch, type ReadinessOptions } from './readiness';
import { userKey } from './person';
import { lockToLockerApp } from './locker-app';
import { locationsFile, recordsIdentifier, usbIdentifier, type PortIdentifier } from './port-identity';
import { PortWrites } from './port-writes';
import { PortEvents, type PortIdentity } from './port-events';
import type { MissedEvent } from './reconcile';

/** Where the fleet says things: the host's log, in the user's language. */
export interface FleetLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface FleetOptions {
  /** Names the fleet's files in `dataDir`. */
  id: string;
  dataDir: string;
  /** Where the fleet's records live; by default a file in `dataDir` (one cart, no server). */
  store?: FleetStore;
  /** With the file store: the audit trail in one file, or a file a month (all kept). */
  auditFiles?: 'one' | 'monthly';
  rules: CheckoutRules;
  /** The locker app's bundle id: locked to it when checked in, configured with the user. */
  lockerApp: string;
  /** `GET <url>?id=<badge>` -> `{"user": "..."}`; empty: no badge lookup over HTTP. */
  badgeLookupUrl: string;
  /** The hospital's directory: it checks sign-ins, and with `badgesFromDirectory` looks badges up (not the URL). */
  directory?: Directory;
  badgesFromDirectory?: boolean;
  /** usbmuxd's socket and how far apart (ms) a dock and a USB attach may be; none: no USB identity. */
  usb?: { path: string; windowMs: number };
  /** The MDM's adapter, when the fleet has one (asked each time: it may come and go with redeploys). */
  mdm: () => MdmAdapter | undefined;
  /**
   * Lost Mode for phones out past the lending period (and phones an admin marks Lost): what
   * their Lock Screen shows, with placeholders (`[Device User Name]`, `[Device Home]`...);
   * undefined: no Lost Mode.
   */
  lostMode?: LostModeText;
  /** Shift changes and the fewest phones wanted ready at them: the readiness forecast and `low-stock`. */
  readiness?: Pick<ReadinessOptions, 'shifts' | 'minimum' | 'leadMs'>;
  /** Whether the fleet shows a cart screen (its `screen`). */
  cartScreen?: boolean;
  /** The user-facing text of a catalog key (`device-fleet.errors.…`). */
  text: (key: string, vars?: Record<string, unknown>) => string;
  log: FleetLog;
}

/**
 * One cart's devices: their records, which phone is on which port (hub events matched with
 * usbmuxd), check-outs and their unplug deadlines, and the LEDs of the hubs it is attached
 * to. Throws STORAGE_DAMAGED when its file is not one (guessing statuses could hand a phone
 * out twice). Composed of rooms, each with one idea: the port identifier, the LED router, the
 * check-out deadlines, the lending watch (Overdue, Lost Mode), the battery watch, the ordered
 * port writes and the event bus.
 */
export class Fleet {
  private readonly comparing = new Set<() => void>();
  readonly store: FleetStore;
  readonly rules: CheckoutRules;
  readonly lockerApp: string;
  readonly badgeLookupUrl: string;
  readonly directory?: Directory;
  readonly badgesFromDirectory: boolean;
  /** The cart's screen, when the fleet shows one. */
  readonly screen?: CartScreen;
  private readonly ports: PortIdentifier;
  private readonly leds: LedRouter;
  private readonly events = new FleetEvents();
  private readonly deadlines: CheckoutDeadlines;
  private readonly lending: LendingWatch;
  private readonly batteries: BatteryWatch;
  /** With shift changes: the phones expected ready at the next one. */
  readonly readiness?: ReadinessWatch;
  private readonly portEvents: PortEvents;
  /** Aborted on close: writes waiting for the database, and commands waiting for a phone, give up. */
  private readonly closing = new AbortController();

  constructor(private readonly options: FleetOptions) {
    const { text, log, rules } = options;
    const warn = (message: string): void => log.warn(message);
    const store = (this.store = options.store ?? new FileFleetStore(join(options.dataDir, `fleet-${options.id}.json`), { auditFiles: options.auditFiles }));
    for (const notice of store.notices) log.warn(notice);
    const healed = store.cart === undefined ? 'device-fleet.errors.storage-healed' : 'device-fleet.errors.database-healed';
    store.on('storage', (err?: CodedError) => {
      if (err) return log.error(err.message);
      log.info(text(healed));
      this.compareAgain();
    });
    this.rules = rules;
    this.lockerApp = options.lockerApp;
    this.badgeLookupUrl = options.badgeLookupUrl;
    this.directory = options.directory;
    this.badgesFromDirectory = Boolean(options.directory && options.badgesFromDirectory);
    const { signal } = this.closing;
    const { events } = this;
    const writes = new PortWrites(signal);
    const leds = (this.leds = new LedRouter({ warn, text }));
    const identifier = { store, writes, text, warn };
    this.ports = options.usb
      ? usbIdentifier({ ...identifier, ...options.usb, file: locationsFile(options.dataDir, options.id), hubName: (hubId) => leds.nameOf(hubId) })
      : recordsIdentifier(identifier);
    this.portEvents = new PortEvents({
      ...identifier,
      ports: this.ports,
      events,
      leds,
      mdm: options.mdm,
      log,
      unplugged: () => {
        this.deadlines.arm();
        this.lending.arm();
      },
      hubRead: () => this.deadlines.arm(),
    });
    this.deadlines = new CheckoutDeadlines({ store, rules, writes, events, leds, hubRead: (hubId) => this.portEvents.hubRead(hubId), text, warn });
    this.lending = new LendingWatch({ store, rules, events, mdm: options.mdm, lostMode: options.lostMode, signal, text, warn });
    this.batteries = new BatteryWatch({ store, rules, events, mdm: options.mdm, signal, warn });
    if (options.readiness) this.readiness = new ReadinessWatch({ store, rules, events, ...options.readiness, text, warn });
    if (options.cartScreen) {
      const screen = (this.screen = new CartScreen({
        here: (record) => store.cart === undefined || record.cart === store.cart,
        batteryThreshold: rules.batteryThreshold,
      }));
      store.on('change', (record: DeviceRecord) => screen.deviceChanged(record));
      // A database away at the start: the grid fills as phones change.
      store.devices().then(
        (records) => records.forEach((record) => screen.deviceChanged(record)),
        () => undefined,
      );
    }
  }

  /** Where the phone a person holds was taken from (for her to be told where to return it). */
  async placeOfPhoneHeldBy(user: string): Promise<Place | undefined> {
    const held = (await this.store.devices()).find((record) => record.user !== undefined && userKey(record.user) === userKey(user) && holds(record));
    return held && { cart: held.cart, hub: held.hub, port: held.port };
  }

  /** The fleet's MDM, when it has one. */
  get mdm(): MdmAdapter | undefined {
    return this.options.mdm();
  }

  /** Which phone a hub's dock or unplug is about, asked once per event (see PortEvents). */
  identifyEvent(event: { event: 'dock' | 'unplug' }, place: HubPort, missed?: boolean): Promise<PortIdentity> {
    return this.portEvents.identifyEvent(event, place, missed);
  }

  identifyDock(place: HubPort, missed?: boolean): Promise<PortIdentity> {
    return this.portEvents.identifyDock(place, missed);
  }

  recordUnplug(place: HubPort): Promise<PortIdentity> {
    return this.portEvents.recordUnplug(place);
  }

  /** A lockdown session with a phone on this host's USB. */
  lockdown(udid: string): Promise<LockdownSession> {
    return this.ports.lockdown(udid);
  }

  /** After a start, what happened while Node-RED was away, from the hub's first reading (see PortEvents). */
  reconcile(hub: { id: string; name: string }, docked: number[], replay: (missed: MissedEvent) => void, unlocked?: number[]): Promise<void> {
    return this.portEvents.reconcile(hub, docked, replay, unlocked);
  }

  /**
   * Lets the fleet drive the LEDs of a hub its `hub-input` nodes listen to (keyed by the hub's
   * config node id: names repeat and change); returns what detaches it. Records and learnt USB
   * locations that named the hub by its name only (before 0.2) are taken over here.
   */
  attachHub(hub: { id: string; name: string }, connection: HubConnection): () => void {
    this.portEvents.attach(hub);
    return this.leds.attach(hub, connection);
  }

  /** The phone docked at `port` of a hub of this fleet, named by its config node id or by its name. */
  async dockedAt(hub: string, port: number): Promise<(Device & { udid: string }) | undefined> {
    const record = await this.store.deviceAt(this.leds.idOf(hub) ?? hub, port);
    return record?.docked ? asDevice(record) : undefined;
  }

  /** Sets the LED of the device's port; a hub the fleet does not know is skipped with a warning. */
  setLed(device: Device, led: LedState): Promise<void> {
    return this.leds.setLed(device, led);
  }

  /** Starts a check-out (the given device or the best one) and its unplug deadline. */
  async beginCheckout(user: AssignedUser, udid: string | undefined, started: Omit<PendingCheckout, 'deadline'>): Promise<Device & { udid: string }> {
    const device = asDevice(await this.store.beginCheckout(user.id, this.rules, udid, started, user.name));
    this.deadlines.arm();
    return device;
  }

  /**
   * A workflow gave up on the phone, or (`unlock-failed`) it did not unlock for the person
   * tapping: Failed, never handed out so, said to `onEvent` listeners.
   */
  async fail(udid: string, actor: { who: string; why: string }, event: 'failed' | 'unlock-failed' = 'failed'): Promise<Device & { udid: string }> {
    const device = asDevice(await this.store.fail(udid, actor));
    this.events.announce(event, device, actor.why);
    return device;
  }

  /**
   * The check-in action (a Return's first step, or an admin's forced check-in): locked to the
   * locker app, no Device User (nor the MDM's assigned user), charge and serial read again (the
   * charge decides which phone goes out next), Checked In, the port's LED back to charging.
   */
  async checkIn(udid: string, mdm: MdmAdapter, wait: PerformOptions, actor: Actor): Promise<Device & { udid: string }> {
    if (!this.lockerApp) throw new CodedError('INVALID_CONFIG', this.options.text('device-fleet.errors.no-locker-app'));
    // A phone in Lost Mode refuses the lock (Apple: 12078): out of it first, wherever it was sent in.
    if ((await this.store.device(udid))?.lostMode) await this.lending.liftLostMode(udid, mdm, wait, actor);
    await lockToLockerApp(mdm, this.lockerApp, udid, wait);
    await mdm.assignUser(udid, undefined);
    const { battery, serial } = await mdm.readDevice(udid, wait);
    await this.store.reportHealth(udid, battery, true, serial);
    const record = await this.store.checkIn(udid, actor);
    await this.setLed(record, 'release');
    return asDevice(record);
  }

  /** Sends the phone into Lost Mode with the fleet's texts (see LendingWatch). */
  enableLostMode(udid: string, actor: Actor): Promise<void> {
    return this.lending.enableLostMode(udid, actor);
  }

  /**
   * After the store was away, or the database's connection that listens came back (a failover
   * may have lost the newest commits): every hub is compared with the records again, as after a
   * start. `onCompareAgain` listeners (each hub's input) read their hub again for it.
   */
  compareAgain(): void {
    this.portEvents.compareAgain();
    for (const listener of this.comparing) listener();
  }

  /** Calls `listener` whenever the hubs are to be compared with the records again; returns what stops it. */
  onCompareAgain(listener: () => void): () => void {
    this.comparing.add(listener);
    return () => this.comparing.delete(listener);
  }

  /** Calls `listener` with every fleet event from now on; returns what stops it. */
  onEvent(listener: (event: FleetEvent) => void): () => void {
    return this.events.on(listener);
  }

  /** Hands `node` the check-outs it started that ran out of time, also those from before a restart. */
  watchCheckouts(node: string, onExpired: (expired: ExpiredCheckout) => void): () => void {
    return this.deadlines.watch(node, onExpired);
  }

  async close(): Promise<void> {
    this.closing.abort(new CodedError('NODE_CLOSED', this.options.text('device-fleet.errors.closed-while-away')));
    this.deadlines.close();
    this.lending.close();
    this.batteries.close();
    this.readiness?.close();
    this.screen?.close();
    await this.store.close();
    await this.ports.close();
  }
}
