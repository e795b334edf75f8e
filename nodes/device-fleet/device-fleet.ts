import { join } from 'node:path';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { CodedError } from '../lib/coded-error';
import type { Device } from '../lib/attributes';
import type { MdmServerNode } from '../mdm-server/mdm-server';
import { readJson, writeJsonAtomically } from '../lib/json-file';
import { SharedPool } from '../lib/shared-pool';
import { openUsbSocket } from '../lib/usb/open-usb';
import { PortCorrelator, type PortKey } from '../lib/usb/port-correlator';
import { UsbmuxClient, type UsbDevice } from '../lib/usb/usbmux-client';
import { LockdownSession } from '../lib/usb/lockdown';
import { FleetStore, type DeviceRecord } from '../lib/fleet/fleet-store';

export interface DeviceFleetDef extends NodeDef {
  mdm: string;
  /** usbmuxd's socket, or `sim:<name>`; empty: no USB identity. */
  usb?: string;
  /** Seconds a dock and a USB attach may be apart and still belong together. */
  usbWindow?: string;
}

/** What a dock or unplug can say about the phone on a port. */
export interface PortIdentity {
  /** The fleet's record of the phone: udid, serial, name, status, user, attributes. */
  device?: Device;
  /** Why the phone could not be identified. */
  reason?: string;
}

export interface DeviceFleetNode extends Node {
  /** The fleet's MDM server node, when one is configured. */
  mdmNode?: MdmServerNode;
  /** Every device of this cart, persisted in the user directory. */
  store: FleetStore;
  /** The phone just docked on a port, once USB has told (within the window). */
  identifyDock(port: PortKey): Promise<PortIdentity>;
  /** The phone that was on a port just unplugged. */
  identifyUnplug(port: PortKey): PortIdentity;
  /** A lockdown session with a phone on this host's USB. */
  lockdown(udid: string): Promise<LockdownSession>;
}

/** One usbmuxd connection per socket path across every flow. */
const usbSources = new SharedPool<UsbmuxClient>();

export default function (RED: NodeAPI): void {
  function DeviceFleet(this: DeviceFleetNode, config: DeviceFleetDef): void {
    RED.nodes.createNode(this, config);
    this.mdmNode = (RED.nodes.getNode(config.mdm) as MdmServerNode | null) ?? undefined;
    const dataDir = join(RED.settings.userDir ?? '.', 'device-checkout');
    this.store = new FleetStore(join(dataDir, `fleet-${this.id}.json`));
    const serialOf = (udid: string): string | undefined => this.mdmNode?.connection?.enrolment(udid)?.serial ?? this.store.device(udid)?.serial;
    // What a message may carry of a record: not the fleet's bookkeeping (battery, deadline...).
    const asDevice = ({ udid, serial, name, hub, port, status, user, attributes }: DeviceRecord): Device =>
      Object.fromEntries(Object.entries({ udid, serial, name, hub, port, status, user, attributes }).filter(([, v]) => v !== undefined));
    const source = (config.usb ?? '').trim();
    if (!source) {
      const reason = RED._('device-fleet.errors.no-usb');
      this.identifyDock = async () => ({ reason });
      this.identifyUnplug = () => ({ reason });
      this.lockdown = async () => {
        throw new CodedError('NO_USB', reason);
      };
      return;
    }

    // Learnt port -> USB locations outlive restarts: first docks need not be alone again.
    const locationsFile = join(dataDir, `usb-locations-${this.id}.json`);
    const locations = new Map<string, number>(Object.entries(readJson<Record<string, number>>(locationsFile, {})));
    const correlator = new PortCorrelator({
      windowMs: Number(config.usbWindow || 5) * 1000,
      locations,
      onLearn: (learnt) => writeJsonAtomically(locationsFile, Object.fromEntries(learnt)),
      onDisagreement: (message) => this.warn(message),
    });
    const usb = usbSources.acquire(source, () => new UsbmuxClient({ path: source, openSocket: openUsbSocket }));
    const onAttached = (d: UsbDevice): void => correlator.attach(d.udid, d.locationId);
    const onDetached = (d: UsbDevice): void => correlator.detach(d.udid);
    usb.on('attached', onAttached).on('detached', onDetached);
    for (const device of usb.devices()) onAttached(device);
    usb.start();

    this.identifyDock = async (port) => {
      const found = await correlator.dock(port);
      if (!found.udid) return { reason: found.reason };
      const serial = serialOf(found.udid);
      return { device: asDevice(this.store.docked(found.udid, { ...port, ...(serial && { serial }) }, { who: 'hub', why: 'docked' })) };
    };
    this.identifyUnplug = (port) => {
      const udid = correlator.unplug(port);
      if (!udid) return { reason: RED._('device-fleet.errors.unplug-unknown') };
      return { device: asDevice(this.store.unplugged(udid, { who: 'hub', why: 'unplugged' })) };
    };

    this.lockdown = async (udid) => {
      const device = usb.byUdid(udid);
      if (!device) throw new CodedError('DEVICE_GONE', RED._('device-fleet.errors.not-on-usb', { udid }));
      return LockdownSession.open(openUsbSocket, source, device);
    };

    this.on('close', async (done: () => void) => {
      usb.off('attached', onAttached).off('detached', onDetached);
      correlator.close();
      await usbSources.release(source);
      done();
    });
  }
  RED.nodes.registerType('device-fleet', DeviceFleet);
}
