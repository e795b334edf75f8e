import { join } from 'node:path';
import { pause } from '../abort';
import { CodedError } from '../coded-error';
import { renderTemplate, type Device } from '../attributes';
import type { HubConnection } from '../hub/hub-connection';
import type { LedState } from '../hub/led-plan';
import { readJson, setAside, SnapshotFile } from '../json-file';
import type { AssignedUser, MdmAdapter, PerformOptions } from '../mdm/mdm-adapter';
import { disableLostMode, enableLostMode, type LostModeText } from '../mdm/commands';
import { SharedPool } from '../shared-pool';
import { LockdownSession } from '../usb/lockdown';
import { openUsbSocket } from '../usb/open-usb';
import { keyOf, PortCorrelator, type Resolution } from '../usb/port-correlator';
import { UsbmuxClient, type UsbDevice } from '../usb/usbmux-client';
import { DueTimes } from './due-times';
import { FileFleetStore } from './file-fleet-store';
import { lockToLockerApp } from './locker-app';
import { DEVICE_HOME, type Actor, type CheckoutRules, type DeviceRecord, type FleetStore, type HubPort, type Pending, type PendingCheckout } from './fleet-store';
import { missedEvents, type MissedEvent } from './reconcile';

/** What a dock or unplug can say about the phone on a port. */
export interface PortIdentity {
  /** The fleet's record of the phone: udid, serial, name, status, user, attributes. */
  device?: Device;
  /** Why the phone could not be identified. */
  reason?: string;
}

/**
 * What an admin is alerted to: a phone out past the lending period, back after it, docked away
 * from its Device Home, docked and still not charged after hours, one a workflow gave up on,
 * one that did not unlock for the person tapping.
 */
export const FLEET_EVENTS = ['overdue', 'returned-late', 'wrong-cart', 'low-battery', 'failed', 'unlock-failed'] as const;

export interface FleetEvent {
  event: (typeof FLEET_EVENTS)[number];
  device: Device & { udid: string };
  /** When it happened, ISO 8601. */
  at: string;
  /** Why, as the audit trail says it (an error code, the lending period). */
  why?: string;
}

/** A check-out whose phone was not unplugged in time, for the node that started it. */
export type ExpiredCheckout = { device: Device; checkout: PendingCheckout };

/** How the fleet tells which phone is on a port: through usbmuxd, or without USB from its records alone. */
interface PortIdentifier {
  /** Which phone a port event is about, or why that cannot be told. */
  identify(place: HubPort, missed?: boolean): Promise<Resolution>;
  /** The phone USB saw leave the port, if USB can tell. */
  unplug(place: HubPort): string | undefined;
  lockdown(udid: string): Promise<LockdownSession>;
  close(): Promise<void>;
}

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
  /** `GET <url>?id=<badge>` -> `{"user": "..."}`; empty: no badge lookup. */
  badgeLookupUrl: string;
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
  /** The user-facing text of a catalog key (`device-fleet.errors.…`). */
  text: (key: string, vars?: Record<string, unknown>) => string;
  log: FleetLog;
}

/** How long a Lost Mode command waits for a phone out of reach before leaving it queued at the MDM. */
const LOST_MODE_WAIT_MS = 3_600_000;
/** How often the charge of docked phones below the battery threshold is read again. */
export const BATTERY_CHECK_MS = 15 * 60_000;
/** Docked and still below the threshold this long: `low-battery` (a port or cable that does not charge). */
export const LOW_BATTERY_MS = 2 * 3_600_000;
/** A port event's write that fails so is tried again: the database is away or busy, the event still happened. */
const RECORD_AGAIN = new Set(['STORE_UNAVAILABLE', 'STORE_BUSY']);
/** Apple's answer to DisableLostMode on a phone not in Lost Mode. */
const NOT_IN_LOST_MODE = 12067;

/** One usbmuxd connection per socket path across every fleet. */
const usbSources = new SharedPool<UsbmuxClient>();

// What a message may carry of a record: not the fleet's bookkeeping (battery, deadline...).
export const asDevice = ({ udid, serial, name, cart, hub, hubId, port, status, user, userName, attributes, wrongCart, overdue }: DeviceRecord): Device & { udid: string } =>
  Object.fromEntries(Object.entries({ udid, serial, name, cart, home: attributes[DEVICE_HOME], wrongCart, hub, hubId, port, status, overdue, user, userName, attributes }).filter(([, v]) => v !== undefined)) as unknown as Device & { udid: string };

/**
 * One cart's devices: their records, which phone is on which port (hub events matched with
 * usbmuxd), check-outs and their unplug deadlines, and the LEDs of the hubs it is attached
 * to. Throws STORAGE_DAMAGED when its file is not one (guessing statuses could hand a phone
 * out twice).
 */
export class Fleet {
  readonly store: FleetStore;
  readonly rules: CheckoutRules;
  readonly lockerApp: string;
  readonly badgeLookupUrl: string;
  private readonly ports: PortIdentifier;
  /** Attached hubs by config node id, and their names. */
  private readonly hubs = new Map<string, HubConnection>();
  private readonly hubNames = new Map<string, string>();
  /** Port -> USB location, learnt (with USB identity): keyed by hub id and port. */
  private locations?: { learnt: Map<string, number>; save(): void };
  private readonly unknownHubs = new Set<string>();
  /** Hubs whose records are brought up to date with their config node (see `attachHub`). */
  private readonly updatedHubs = new Map<string, Promise<void>>();
  /** Hubs whose first reading was compared with the records (or is being). */
  private readonly reconciledHubs = new Set<string>();
  /** Hubs read since the start: only there can a deadline tell a phone still docked from one taken. */
  private readonly readHubs = new Set<string>();
  private readonly watchers = new Map<string, (expired: ExpiredCheckout) => void>();
  private readonly eventListeners = new Set<(event: FleetEvent) => void>();
  /** Expired check-outs whose node is not running (yet): handed over when it watches. */
  private readonly undelivered = new Map<string, ExpiredCheckout[]>();
  private readonly deadlines: DueTimes<Pending>;
  /** Phones out past the lending period become Overdue. */
  private readonly lending: DueTimes<DeviceRecord & { checkedOutAt: string }>;
  /** Port events' writes, one after the other (see `recording`). */
  private portWrites: Promise<unknown> = Promise.resolve();
  /** Aborted on close: writes waiting for the database give up. */
  private readonly closing = new AbortController();
  /** What each hub event was found to be about: every hub-input of that hub gets the same answer. */
  private readonly identities = new WeakMap<object, Promise<PortIdentity>>();
  /** Docked phones below the battery threshold: since when (ms), and whether that was announced. */
  private readonly lowBattery = new Map<string, { since: number; announced: boolean }>();
  private readonly batteryTimer: NodeJS.Timeout;

  constructor(private readonly options: FleetOptions) {
    const { text, log } = options;
    this.store = options.store ?? new FileFleetStore(join(options.dataDir, `fleet-${options.id}.json`), { auditFiles: options.auditFiles });
    for (const notice of this.store.notices) log.warn(notice);
    const healed = this.store.cart === undefined ? 'device-fleet.errors.storage-healed' : 'device-fleet.errors.database-healed';
    this.store.on('storage', (err?: CodedError) => (err ? log.error(err.message) : log.info(text(healed))));
    this.rules = options.rules;
    this.lockerApp = options.lockerApp;
    this.badgeLookupUrl = options.badgeLookupUrl;
    // Check-outs not completed by an unplug in time: Failed, amber LED, and a failure for the
    // node that started them (kept until that node is running again after a restart).
    this.deadlines = new DueTimes(
      () => this.store.pendingCheckouts(),
      (record) => Date.parse(record.checkout.deadline),
      async (record) => {
        const why = text('device-fleet.errors.unplug-timeout', { seconds: this.rules.deadlineSeconds });
        // Judged behind the port events seen before it: an unplug the hub saw while the database
        // was away is recorded first, so the phone in her hand completes its check-out.
        const failed = await this.recording(() => this.store.expireCheckout(record.udid, record.checkout.deadline, { who: 'fleet', why }));
        if (!failed) return; // unplugged (or changed) meanwhile
        const device = asDevice(failed);
        this.announce('failed', device, why);
        this.setLed(device, 'error').catch((err: Error) => log.warn(err.message));
        this.deliver({ device, checkout: record.checkout });
      },
      { canJudge: (record) => record.hubId !== undefined && this.readHubs.has(record.hubId) },
    );
    this.deadlines.arm();
    const lendingMs = (this.rules.lendingHours ?? 0) * 3_600_000;
    this.lending = new DueTimes(
      async () => (lendingMs > 0 ? this.store.outstanding() : []),
      (record) => Date.parse(record.checkedOutAt) + lendingMs,
      async (record) => {
        const why = text('device-fleet.errors.overdue', { hours: this.rules.lendingHours });
        const overdue = await this.store.markOverdue(record.udid, record.checkedOutAt, { who: 'fleet', why });
        if (!overdue) return; // back (or out again) meanwhile
        log.warn(text('device-fleet.errors.overdue-phone', { device: overdue.name ?? overdue.serial ?? overdue.udid, user: overdue.userName ?? overdue.user ?? '?', since: record.checkedOutAt }));
        this.announce('overdue', asDevice(overdue), why);
        await this.enableLostMode(overdue.udid, { who: 'fleet', why });
      },
    );
    this.lending.arm();
    this.ports = options.usb ? this.usbIdentifier(options.usb.path, options.usb.windowMs) : this.recordsIdentifier();
    this.batteryTimer = setInterval(() => void this.checkBatteries().catch((err: Error) => log.warn(err.message)), BATTERY_CHECK_MS).unref();
  }

  /** The fleet's MDM, when it has one. */
  get mdm(): MdmAdapter | undefined {
    return this.options.mdm();
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
    const found = await this.ports.identify(place, missed);
    if (!found.udid) return { reason: found.reason };
    return this.recording(async () => {
      const serial = await this.serialOf(found.udid);
      const device = asDevice(await this.store.docked(found.udid, { ...place, ...(serial && { serial }) }, { who: 'hub', why: 'docked' }));
      if (device.overdue) this.announce('returned-late', device);
      if (device.wrongCart) this.announce('wrong-cart', device, device.home);
      return { device };
    });
  }

  /** Records that the phone on a port was unplugged and says which it was; completes a check-out waiting for it. */
  recordUnplug(place: HubPort): Promise<PortIdentity> {
    const udid = this.ports.unplug(place);
    return this.recording(() => this.unpluggedAt(place, udid));
  }

  /** A lockdown session with a phone on this host's USB. */
  lockdown(udid: string): Promise<LockdownSession> {
    return this.ports.lockdown(udid);
  }

  /**
   * After a start, compares the hub's first reading (`docked` ports) with the records and
   * hands `replay` each dock and unplug that happened meanwhile (or a Return left unfinished),
   * once; deadlines of this hub's check-outs are judged only after that.
   */
  async reconcile(hub: { id: string; name: string }, docked: number[], replay: (missed: MissedEvent) => void): Promise<void> {
    if (!this.reconciledHubs.has(hub.id)) {
      this.reconciledHubs.add(hub.id);
      await this.updatedHubs.get(hub.id);
      let records: DeviceRecord[];
      try {
        records = await this.recording(() => this.store.devices());
      } catch (err) {
        // Not compared: the next reading compares it (else this hub's deadlines would never be judged).
        this.reconciledHubs.delete(hub.id);
        throw err;
      }
      const here = records.filter((d) => d.cart === this.store.cart);
      for (const missed of missedEvents(here, hub.id, docked)) {
        this.options.log.info(this.options.text('device-fleet.errors.missed', { hub: hub.name, port: missed.port, event: missed.event, why: missed.why }));
        replay(missed);
      }
      this.readHubs.add(hub.id);
    }
    this.deadlines.arm();
  }

  /**
   * Lets the fleet drive the LEDs of a hub its `hub-input` nodes listen to (keyed by the hub's
   * config node id: names repeat and change); returns what detaches it. Records and learnt USB
   * locations that named the hub by its name only (before 0.2) are taken over here.
   */
  attachHub(hub: { id: string; name: string }, connection: HubConnection): () => void {
    // The store refuses: tried again at the next start.
    this.updatedHubs.set(hub.id, this.store.updateHub(hub.id, hub.name).catch((err: Error) => this.options.log.warn(err.message)));
    this.adoptLocations(hub.id, hub.name);
    this.hubs.set(hub.id, connection);
    this.hubNames.set(hub.id, hub.name);
    return () => {
      if (this.hubs.get(hub.id) === connection) this.hubs.delete(hub.id);
    };
  }

  /** Sets the LED of the device's port; a hub the fleet does not know is skipped with a warning. */
  async setLed(device: Device, led: LedState): Promise<void> {
    const hub = device.hubId === undefined ? undefined : this.hubs.get(device.hubId);
    if (!hub || device.port === undefined) {
      const name = String(device.hub);
      if (!this.unknownHubs.has(name)) this.options.log.warn(this.options.text('device-fleet.errors.no-hub', { hub: name }));
      this.unknownHubs.add(name);
      return;
    }
    // A hub that is reconnecting takes the LED when it is back: not a reason to fail a workflow.
    await hub.setLed(device.port, led).catch((err: CodedError) => {
      if (err.code !== 'HUB_DISCONNECTED') throw err;
      this.options.log.warn(err.message);
    });
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
    this.announce(event, device, actor.why);
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
    if ((await this.store.device(udid))?.lostMode) await this.liftLostMode(udid, mdm, wait, actor);
    await lockToLockerApp(mdm, this.lockerApp, udid, wait);
    await mdm.assignUser(udid, undefined);
    const { battery, serial } = await mdm.readDevice(udid, wait);
    await this.store.reportHealth(udid, battery, true, serial);
    const record = await this.store.checkIn(udid, actor);
    await this.setLed(record, 'release');
    return asDevice(record);
  }

  /**
   * Sends the phone into Lost Mode with the fleet's texts (when it has them and an MDM),
   * recorded at once: a phone out of reach runs it once it reaches the MDM again, and its next
   * check-in lifts it first. A phone that refuses (not supervised) is said in the log
   * (LOST_MODE_REFUSED) and recorded as not in Lost Mode.
   */
  async enableLostMode(udid: string, actor: Actor): Promise<void> {
    const { lostMode, log, text } = this.options;
    const mdm = this.mdm;
    if (!lostMode || !mdm) return;
    const device = asDevice((await this.store.device(udid))!);
    const label = device.name ?? device.serial ?? udid;
    try {
      const empty: string[] = [];
      const shown = Object.fromEntries(Object.entries(lostMode).filter(([, value]) => value).map(([key, value]) => [key, renderTemplate(value as string, device, (missing) => empty.push(...missing)).trim()]).filter(([, value]) => value));
      if (empty.length > 0) log.warn(text('device-fleet.errors.lost-mode-empty', { device: label, placeholders: empty.join(', ') }));
      const command = enableLostMode(shown);
      await this.store.setLostMode(udid, true, actor);
      mdm.perform(udid, command, { timeout: LOST_MODE_WAIT_MS, signal: this.closing.signal }).catch(async (err: CodedError) => {
        if (err.code !== 'DEVICE_ERROR') return; // not answered yet: it stays queued at the MDM
        log.warn(text('device-fleet.errors.lost-mode-refused', { device: label, message: err.message }));
        await this.store.setLostMode(udid, false, { who: 'fleet', why: `LOST_MODE_REFUSED: ${err.message}` }).catch((error: Error) => log.warn(error.message));
      });
    } catch (err) {
      log.warn(text('device-fleet.errors.lost-mode-not-sent', { device: label, message: (err as Error).message }));
    }
  }

  /** Takes the phone out of Lost Mode (one not in it any more counts as done: Apple's 12067) and records it. */
  private async liftLostMode(udid: string, mdm: MdmAdapter, wait: PerformOptions, actor: Actor): Promise<void> {
    await mdm.perform(udid, disableLostMode(), wait).catch((err: CodedError) => {
      const chain = err.details?.errorChain as { ErrorCode?: number }[] | undefined;
      if (!chain?.some((e) => e.ErrorCode === NOT_IN_LOST_MODE)) throw err;
    });
    await this.store.setLostMode(udid, false, actor);
  }

  /** Calls `listener` with every fleet event from now on; returns what stops it. */
  onEvent(listener: (event: FleetEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => void this.eventListeners.delete(listener);
  }

  /** Hands `node` the check-outs it started that ran out of time, also those from before a restart. */
  watchCheckouts(node: string, onExpired: (expired: ExpiredCheckout) => void): () => void {
    this.watchers.set(node, onExpired);
    const waiting = this.undelivered.get(node) ?? [];
    this.undelivered.delete(node);
    waiting.forEach(onExpired);
    return () => {
      if (this.watchers.get(node) === onExpired) this.watchers.delete(node);
    };
  }

  async close(): Promise<void> {
    this.closing.abort(new CodedError('NODE_CLOSED', this.options.text('device-fleet.errors.closed-while-away')));
    this.deadlines.close();
    this.lending.close();
    clearInterval(this.batteryTimer);
    await this.store.close();
    await this.ports.close();
  }

  /**
   * A port event's write to the store, in the order the events came, each waiting for the one
   * before. While the store cannot be reached or is busy (RECORD_AGAIN) it is tried again, 1 s apart
   * at first and at most 30 s, so a dock or unplug seen meanwhile is recorded (and its event
   * sent on) once, when the database is back. Other failures are the caller's.
   */
  private recording<T>(write: () => Promise<T>): Promise<T> {
    const attempt = async (): Promise<T> => {
      for (let wait = 1000; ; wait = Math.min(wait * 2, 30_000)) {
        try {
          return await write();
        } catch (err) {
          if (!RECORD_AGAIN.has((err as CodedError).code) || this.closing.signal.aborted) throw err;
          await pause(wait, this.closing.signal);
        }
      }
    };
    const recorded = this.portWrites.then(attempt);
    this.portWrites = recorded.catch(() => undefined);
    return recorded;
  }

  /**
   * A docked phone below the battery threshold is not handed out, and its charge was last read
   * at its check-in: it is read again every BATTERY_CHECK_MS, so a charged phone goes out again.
   * One still below the threshold after LOW_BATTERY_MS docked is announced as `low-battery`, once
   * per dock (a port or cable that does not charge). Known since this start: a restart counts anew.
   */
  private async checkBatteries(): Promise<void> {
    const mdm = this.mdm;
    if (!mdm) return;
    const now = Date.now();
    const low = (await this.store.devices()).filter(
      (d) => d.cart === this.store.cart && d.docked && d.status === 'Checked In' && d.battery !== undefined && d.battery < this.rules.batteryThreshold,
    );
    for (const udid of this.lowBattery.keys()) if (!low.some((d) => d.udid === udid)) this.lowBattery.delete(udid);
    for (const phone of low) {
      let record = phone;
      try {
        const { battery, serial } = await mdm.readDevice(phone.udid, { timeout: 30_000, signal: this.closing.signal });
        record = await this.store.reportHealth(phone.udid, battery, phone.healthy, serial);
      } catch {
        // not answering: judged on what it said last
      }
      if ((record.battery ?? 1) >= this.rules.batteryThreshold) {
        this.lowBattery.delete(phone.udid);
        continue;
      }
      const seen = this.lowBattery.get(phone.udid) ?? { since: now, announced: false };
      this.lowBattery.set(phone.udid, seen);
      if (seen.announced || now - seen.since < LOW_BATTERY_MS) continue;
      seen.announced = true;
      this.announce('low-battery', asDevice(record), `${Math.round((record.battery ?? 0) * 100)}%`);
    }
  }

  private announce(event: FleetEvent['event'], device: Device & { udid: string }, why?: string): void {
    const told: FleetEvent = { event, device, at: new Date().toISOString(), ...(why && { why }) };
    for (const listener of this.eventListeners) listener(told);
  }

  private deliver(expired: ExpiredCheckout): void {
    const node = expired.checkout.node ?? '';
    const watcher = this.watchers.get(node);
    if (watcher) return watcher(expired);
    this.undelivered.set(node, [...(this.undelivered.get(node) ?? []), expired]);
  }

  private async serialOf(udid: string): Promise<string | undefined> {
    return this.mdm?.enrolment(udid)?.serial ?? (await this.store.device(udid))?.serial;
  }

  /** Learnt locations keyed `<hub name>#<port>` (before 0.2) move to the hub's id, unless it has learnt its own. */
  private adoptLocations(hubId: string, name: string): void {
    if (!this.locations) return;
    const { learnt, save } = this.locations;
    const named = [...learnt.keys()].filter((key) => key.startsWith(`${name}#`));
    if (named.length === 0 || [...learnt.keys()].some((key) => key.startsWith(`${hubId}#`))) return;
    for (const key of named) {
      learnt.set(keyOf({ hubId, port: Number(key.slice(name.length + 1)) }), learnt.get(key)!);
      learnt.delete(key);
    }
    save();
  }

  private async unpluggedAt(place: HubPort, known?: string): Promise<PortIdentity> {
    const udid = known ?? (await this.store.deviceAt(place.hubId, place.port))?.udid;
    if (!udid) return { reason: this.options.text('device-fleet.errors.unplug-unknown') };
    const device = asDevice(await this.store.unplugged(udid, { who: 'hub', why: 'unplugged' }));
    this.deadlines.arm();
    this.lending.arm();
    // "Off when removed": the port stays dark until the phone is checked in again.
    if (device.status === 'Checked Out') this.setLed(device, 'off').catch((err: Error) => this.options.log.warn(err.message));
    return { device };
  }

  /** The port -> USB location cache: a damaged one is set aside and learnt again, never fatal. */
  private learntLocations(file: string): Record<string, number> {
    const { text, log } = this.options;
    try {
      const saved = readJson<unknown>(file, {});
      const valid = saved !== null && typeof saved === 'object' && !Array.isArray(saved) && Object.values(saved).every(Number.isInteger);
      if (valid) return saved as Record<string, number>;
      throw new CodedError('STORAGE_DAMAGED', text('device-fleet.errors.locations-shape', { file }));
    } catch (err) {
      let aside = '';
      try {
        aside = setAside(file);
      } catch {
        // unreadable and immovable: it is simply not used
      }
      log.warn(text('device-fleet.errors.locations-damaged', { message: (err as Error).message, aside: aside || file }));
      return {};
    }
  }

  /** Without USB: a phone still docked where the record left it is that phone; any other cannot be told. */
  private recordsIdentifier(): PortIdentifier {
    const noUsb = this.options.text('device-fleet.errors.no-usb');
    return {
      identify: async (place, missed) => {
        const recorded = missed ? await this.recording(() => this.store.deviceAt(place.hubId, place.port)) : undefined;
        return recorded ? { udid: recorded.udid } : { reason: noUsb };
      },
      unplug: () => undefined,
      lockdown: async () => {
        throw new CodedError('NO_USB', noUsb);
      },
      close: async () => undefined,
    };
  }

  /** Identity from usbmuxd: which phone sits on which port, and lockdown sessions with it. */
  private usbIdentifier(path: string, windowMs: number): PortIdentifier {
    const { text, log } = this.options;
    // Learnt port -> USB locations outlive restarts: first docks need not be alone again.
    const locationsFile = join(this.options.dataDir, `usb-locations-${this.options.id}.json`);
    const learnt = new Map<string, number>(Object.entries(this.learntLocations(locationsFile)));
    const snapshots = new SnapshotFile(locationsFile);
    // A write the disk refuses is learnt again at the next lone dock.
    const save = (): void => void snapshots.write(Object.fromEntries(learnt)).catch((err: Error) => log.warn(err.message));
    this.locations = { learnt, save };
    const correlator = new PortCorrelator({
      windowMs,
      locations: learnt,
      onLearn: save,
      onDisagreement: (udid, { hubId, port }) => log.warn(text('device-fleet.errors.usb-disagrees', { udid, hub: this.hubNames.get(hubId) ?? hubId, port })),
    });
    const usb = usbSources.acquire(path, () => new UsbmuxClient({ path, openSocket: openUsbSocket }));
    const onAttached = (d: UsbDevice, listed = false): void => correlator.attach(d.udid, d.locationId, listed);
    const onDetached = (d: UsbDevice): void => correlator.detach(d.udid);
    usb.on('attached', onAttached).on('detached', onDetached);
    for (const device of usb.devices()) onAttached(device, true);
    usb.start();

    return {
      identify: async (place, missed) => {
        const known = missed ? await usb.whenListed(windowMs).then(() => correlator.present(place, usb.devices())) : undefined;
        return known ?? (await correlator.dock(place));
      },
      unplug: (place) => correlator.unplug(place),
      lockdown: async (udid) => {
        const device = usb.byUdid(udid);
        if (!device) throw new CodedError('DEVICE_GONE', text('device-fleet.errors.not-on-usb', { udid }));
        return LockdownSession.open(openUsbSocket, path, device);
      },
      close: async () => {
        usb.off('attached', onAttached).off('detached', onDetached);
        correlator.close();
        await usbSources.release(path);
      },
    };
  }
}
