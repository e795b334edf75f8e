import { join } from 'node:path';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { CodedError } from '../lib/coded-error';
import { Fleet } from '../lib/fleet/fleet';
import type { MdmServerNode } from '../mdm-server/mdm-server';
import { numberField } from '../shared/defaults';

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

export interface DeviceFleetNode extends Node {
  /** The cart's devices; undefined when the fleet cannot work at all (see `unavailable`). */
  fleet?: Fleet;
  /** Why the fleet cannot work at all (its file is damaged): every user fails with it. */
  unavailable?: CodedError;
}

/** The fleet a node names, or why there is none to use (NO_FLEET is the caller's to say). */
export function fleetOf(RED: NodeAPI, id: string | undefined): { fleet?: Fleet; unavailable?: CodedError } {
  const node = id ? (RED.nodes.getNode(id) as DeviceFleetNode | null) : null;
  return { fleet: node?.fleet, unavailable: node?.unavailable };
}

export default function (RED: NodeAPI): void {
  function DeviceFleet(this: DeviceFleetNode, config: DeviceFleetDef): void {
    RED.nodes.createNode(this, config);
    const mdmNode = (RED.nodes.getNode(config.mdm) as MdmServerNode | null) ?? undefined;
    const usb = (config.usb ?? '').trim();
    const field = (name: string): number => numberField('device-fleet', config, name);
    try {
      this.fleet = new Fleet({
        id: this.id,
        dataDir: join(RED.settings.userDir ?? '.', 'device-checkout'),
        rules: {
          deadlineSeconds: field('checkoutDeadline'),
          userLimit: field('userLimit'),
          batteryThreshold: field('batteryThreshold') / 100,
        },
        lockerApp: (config.lockerApp ?? '').trim(),
        badgeLookupUrl: (config.badgeLookupUrl ?? '').trim(),
        usb: usb ? { path: usb, windowMs: field('usbWindow') * 1000 } : undefined,
        mdm: () => mdmNode?.adapter,
        text: (key, vars) => RED._(key, vars as Record<string, string | number> | undefined),
        log: { info: (m) => this.log(m), warn: (m) => this.warn(m), error: (m) => this.error(m) },
      });
    } catch (err) {
      // A damaged fleet file is left for the admin: guessing the phones' statuses could hand one out twice.
      this.unavailable = err as CodedError;
      this.error(RED._('device-fleet.errors.unavailable', { message: (err as Error).message }));
      return;
    }
    const { fleet } = this;
    this.on('close', async (done: () => void) => {
      await fleet.close();
      done();
    });
  }

  RED.nodes.registerType('device-fleet', DeviceFleet);
}
