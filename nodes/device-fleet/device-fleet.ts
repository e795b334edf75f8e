import { join } from 'node:path';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { CodedError } from '../lib/coded-error';
import type { Device } from '../lib/attributes';
import type { MdmServerNode } from '../mdm-server/mdm-server';
import type { HubConnection } from '../lib/hub/hub-connection';
import type { LedState } from '../lib/hub/led-plan';
import { readJson, setAside, writeJsonAtomically } from '../lib/json-file';
import { SharedPool } from '../lib/shared-pool';
import { openUsbSocket } from '../lib/usb/open-usb';
import { PortCorrelator, type PortKey } from '../lib/usb/port-correlator';
import { UsbmuxClient, type UsbDevice } from '../lib/usb/usbmux-client';
import { LockdownSession } from '../lib/usb/lockdown';
import type { AssignedUser } from '../lib/mdm/mdm-adapter';
import { FleetStore, type CheckoutRules, type DeviceRecord, type PendingCheckout } from '../lib/fleet/fleet-store';
import { CheckoutDeadlines } from '../lib/fleet/checkout-deadlines';
import { missedEvents, type MissedEvent } from '../lib/fleet/reconcile';

export interface DeviceFleetDef extends NodeDef {
  mdm: string;
  /** usbmuxd's socket, or `sim:<name>`; empty: no USB identity. */
  usb?: string;
  /** Seconds a dock and a USB attach may be apart and still belong together. */
  usbWindow?: string;
  /** The locker app's bundle id: locked to it when checked in, configured with the user. */
  lockerApp?: string;
  /** Seconds a person has to unplug a phone unlocked for them. */
  checkoutDeadline?: string;
  /** Devices one user may hold at once. */
  userLimit?: string;
  /** Phones charged below this (%) are not handed out. */
  batteryThreshold?: string;
  /** `GET <url>?id=<badge>` -> `{"user": "..."}`. */
  badgeLookupUrl?: string;
}

/** What a dock or unplug can say about the phone on a port. */
export interface PortIdentity {
  /** The fleet's record of the phone: udid, serial, name, status, user, attributes. */
  device?: Device;
  /** Why the phone could not be identified. */
  reason?: string;
}

/** A check-out whose phone was not unplugged in time, for the node that started it. */
export type ExpiredCheckout = { device: Device; checkout: PendingCheckout };

export interface DeviceFleetNode extends Node {
  /** Why the fleet cannot work at all (its file is damaged): every user fails with it. */
  unavailable?: CodedError;
  /** The fleet's MDM server node, when one is configured. */
  mdmNode?: MdmServerNode;
  /** Every device of this cart, persisted in the user directory. */
  store: FleetStore;
  rules: CheckoutRules;
  lockerApp: string;
  badgeLookupUrl: string;
  /**
   * The phone just docked on a port, once USB has told (within the window). `missed`: a dock
   * found by `reconcile`, told by the port's learnt USB location against usbmuxd's list (a port
   * not learnt yet: as any dock, a lone phone within the window).
   */
  identifyDock(port: PortKey, missed?: boolean): Promise<PortIdentity>;
  /** The phone that was on a port just unplugged; completes a check-out waiting for it. */
  recordUnplug(port: PortKey): PortIdentity;
  /** A lockdown session with a phone on this host's USB. */
  lockdown(udid: string): Promise<LockdownSession>;
  /**
   * After a start, compares the hub's first reading (`docked` ports) with the records and
   * hands `replay` each dock and unplug that happened meanwhile (or a Return left unfinished),
   * once; deadlines of this hub's check-outs are judged only after that.
   */
  reconcile(hub: string, docked: number[], replay: (missed: MissedEvent) => void): void;
  /** Lets the fleet drive the LEDs of a hub its `hub-input` nodes listen to. */
  attachHub(name: string, connection: HubConnection): () => void;
  /** Sets the LED of the device's port; a hub the fleet does not know is skipped with a warning. */
  setLed(device: Device, led: LedState): Promise<void>;
  /** Starts a check-out (the given device or the best one) and its unplug deadline. */
  beginCheckout(user: AssignedUser, udid: string | undefined, started: Omit<PendingCheckout, 'deadline'>): Device & { udid: string };
  /** Hands `node` the check-outs it started that ran out of time, also those from before a restart. */
  watchCheckouts(node: string, onExpired: (expired: ExpiredCheckout) => void): () => void;
}

/** One usbmuxd connection per socket path across every flow. */
const usbSources = new SharedPool<UsbmuxClient>();

// What a message may carry of a record: not the fleet's bookkeeping (battery, deadline...).
export const asDevice = ({ udid, serial, name, hub, port, status, user, userName, attributes }: DeviceRecord): Device & { udid: string } =>
  Object.fromEntries(Object.entries({ udid, serial, name, hub, port, status, user, userName, attributes }).filter(([, v]) => v !== undefined)) as unknown as Device & { udid: string };

export default function (RED: NodeAPI): void {
  function DeviceFleet(this: DeviceFleetNode, config: DeviceFleetDef): void {
    RED.nodes.createNode(this, config);
    this.mdmNode = (RED.nodes.getNode(config.mdm) as MdmServerNode | null) ?? undefined;
    const dataDir = join(RED.settings.userDir ?? '.', 'device-checkout');
    let store: FleetStore;
    try {
      store = this.store = new FleetStore(join(dataDir, `fleet-${this.id}.json`));
    } catch (err) {
      // A damaged fleet file is left for the admin: guessing the phones' statuses could hand one out twice.
      this.unavailable = err as CodedError;
      this.error(RED._('device-fleet.errors.unavailable', { message: (err as Error).message }));
      return;
    }
    for (const notice of store.notices) this.warn(notice);
    store.on('storage', (err?: CodedError) => (err ? this.error(err.message) : this.log(RED._('device-fleet.errors.storage-healed'))));
    const number = (value: string | undefined, fallback: number) => (value === undefined || value === '' || !Number.isFinite(Number(value)) ? fallback : Number(value));
    this.rules = {
      deadlineSeconds: number(config.checkoutDeadline, 60),
      userLimit: number(config.userLimit, 1),
      batteryThreshold: number(config.batteryThreshold, 20) / 100,
    };
    this.lockerApp = (config.lockerApp ?? '').trim();
    this.badgeLookupUrl = (config.badgeLookupUrl ?? '').trim();
    const serialOf = (udid: string): string | undefined => this.mdmNode?.adapter?.enrolment(udid)?.serial ?? store.device(udid)?.serial;

    const hubs = new Map<string, HubConnection>();
    const unknownHubs = new Set<string>();
    this.attachHub = (name, connection) => {
      hubs.set(name, connection);
      return () => {
        if (hubs.get(name) === connection) hubs.delete(name);
      };
    };
    this.setLed = async (device, led) => {
      const hub = device.hub === undefined ? undefined : hubs.get(device.hub);
      if (!hub || device.port === undefined) {
        const name = String(device.hub);
        if (!unknownHubs.has(name)) this.warn(RED._('device-fleet.errors.no-hub', { hub: name }));
        unknownHubs.add(name);
        return;
      }
      // A hub that is reconnecting takes the LED when it is back: not a reason to fail a workflow.
      await hub.setLed(device.port, led).catch((err: CodedError) => {
        if (err.code !== 'HUB_DISCONNECTED') throw err;
        this.warn(err.message);
      });
    };

    // Check-outs not completed by an unplug in time: Failed, amber LED, and a failure for the
    // node that started them (kept until that node is running again after a restart).
    const watchers = new Map<string, (expired: ExpiredCheckout) => void>();
    const undelivered = new Map<string, ExpiredCheckout[]>();
    const deliver = (expired: ExpiredCheckout) => {
      const node = expired.checkout.node ?? '';
      const watcher = watchers.get(node);
      if (watcher) return watcher(expired);
      undelivered.set(node, [...(undelivered.get(node) ?? []), expired]);
    };
    // Hubs read since the start: only there can a deadline tell a phone still docked from one taken.
    const readHubs = new Set<string>();
    const deadlines = new CheckoutDeadlines(
      store,
      (record) => {
        const { checkout } = record;
        const device = asDevice(store.fail(record.udid, { who: 'fleet', why: RED._('device-fleet.errors.unplug-timeout', { seconds: this.rules.deadlineSeconds }) }));
        this.setLed(device, 'error').catch((err: Error) => this.warn(err.message));
        deliver({ device, checkout });
      },
      { canJudge: (record) => record.hub !== undefined && readHubs.has(record.hub) },
    );
    this.reconcile = (hub, docked, replay) => {
      if (!readHubs.has(hub)) {
        readHubs.add(hub);
        for (const missed of missedEvents(store.devices(), hub, docked)) {
          this.log(RED._('device-fleet.errors.missed', { hub, port: missed.port, event: missed.event, why: missed.why }));
          replay(missed);
        }
      }
      deadlines.arm();
    };
    this.beginCheckout = (user, udid, started) => {
      const device = asDevice(store.beginCheckout(user.id, this.rules, udid, started, user.name));
      deadlines.arm();
      return device;
    };
    this.watchCheckouts = (node, onExpired) => {
      watchers.set(node, onExpired);
      const waiting = undelivered.get(node) ?? [];
      undelivered.delete(node);
      waiting.forEach(onExpired);
      return () => {
        if (watchers.get(node) === onExpired) watchers.delete(node);
      };
    };
    deadlines.arm();

    const unpluggedAt = (port: PortKey, udid = store.deviceAt(port.hub, port.port)?.udid): PortIdentity => {
      if (!udid) return { reason: RED._('device-fleet.errors.unplug-unknown') };
      const device = asDevice(store.unplugged(udid, { who: 'hub', why: 'unplugged' }));
      deadlines.arm();
      // "Off when removed": the port stays dark until the phone is checked in again.
      if (device.status === 'Checked Out') this.setLed(device, 'off').catch((err: Error) => this.warn(err.message));
      return { device };
    };

    const source = (config.usb ?? '').trim();
    const closeUsb = source ? startUsb(this, source, Number(config.usbWindow || 5) * 1000) : withoutUsb(this);
    this.on('close', async (done: () => void) => {
      deadlines.close();
      store.close();
      await closeUsb();
      done();
    });

    /** Identity without USB: unplugs by the port a phone was last docked on, docks unknown. */
    function withoutUsb(node: DeviceFleetNode): () => Promise<void> {
      const reason = RED._('device-fleet.errors.no-usb');
      // A phone still docked where the record left it is that phone; any other cannot be told.
      node.identifyDock = async (port, missed) => {
        const recorded = missed ? store.deviceAt(port.hub, port.port) : undefined;
        return recorded ? { device: asDevice(recorded) } : { reason };
      };
      node.recordUnplug = (port) => unpluggedAt(port);
      node.lockdown = async () => {
        throw new CodedError('NO_USB', reason);
      };
      return async () => undefined;
    }

    /** The port -> USB location cache: a damaged one is set aside and learnt again, never fatal. */
    function learntLocations(file: string): Record<string, number> {
      try {
        const saved = readJson<unknown>(file, {});
        const valid = saved !== null && typeof saved === 'object' && !Array.isArray(saved) && Object.values(saved).every(Number.isInteger);
        if (valid) return saved as Record<string, number>;
        throw new CodedError('STORAGE_DAMAGED', RED._('device-fleet.errors.locations-shape', { file }));
      } catch (err) {
        let aside = '';
        try {
          aside = setAside(file);
        } catch {
          // unreadable and immovable: it is simply not used
        }
        RED.log.warn(RED._('device-fleet.errors.locations-damaged', { message: (err as Error).message, aside: aside || file }));
        return {};
      }
    }

    /** Identity from usbmuxd: which phone sits on which port, and lockdown sessions with it. */
    function startUsb(node: DeviceFleetNode, path: string, windowMs: number): () => Promise<void> {
      // Learnt port -> USB locations outlive restarts: first docks need not be alone again.
      const locationsFile = join(dataDir, `usb-locations-${node.id}.json`);
      const locations = new Map<string, number>(Object.entries(learntLocations(locationsFile)));
      const correlator = new PortCorrelator({
        windowMs,
        locations,
        onLearn: (learnt) => {
          try {
            writeJsonAtomically(locationsFile, Object.fromEntries(learnt));
          } catch (err) {
            node.warn((err as Error).message); // learnt again at the next lone dock
          }
        },
        onDisagreement: (message) => node.warn(message),
      });
      const usb = usbSources.acquire(path, () => new UsbmuxClient({ path, openSocket: openUsbSocket }));
      const onAttached = (d: UsbDevice, listed = false): void => correlator.attach(d.udid, d.locationId, listed);
      const onDetached = (d: UsbDevice): void => correlator.detach(d.udid);
      usb.on('attached', onAttached).on('detached', onDetached);
      for (const device of usb.devices()) onAttached(device, true);
      usb.start();

      node.identifyDock = async (port, missed) => {
        const known = missed ? await usb.whenListed(windowMs).then(() => correlator.present(port, usb.devices())) : undefined;
        const found = known ?? (await correlator.dock(port));
        if (!found.udid) return { reason: found.reason };
        const serial = serialOf(found.udid);
        return { device: asDevice(store.docked(found.udid, { ...port, ...(serial && { serial }) }, { who: 'hub', why: 'docked' })) };
      };
      node.recordUnplug = (port) => unpluggedAt(port, correlator.unplug(port));
      node.lockdown = async (udid) => {
        const device = usb.byUdid(udid);
        if (!device) throw new CodedError('DEVICE_GONE', RED._('device-fleet.errors.not-on-usb', { udid }));
        return LockdownSession.open(openUsbSocket, path, device);
      };
      return async () => {
        usb.off('attached', onAttached).off('detached', onDetached);
        correlator.close();
        await usbSources.release(path);
      };
    }
  }

  RED.nodes.registerType('device-fleet', DeviceFleet);
}
