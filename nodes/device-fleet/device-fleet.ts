import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { CodedError } from '../lib/coded-error';
import type { Device } from '../lib/attributes';
import type { MdmAdapter } from '../lib/mdm/mdm-adapter';
import type { MdmServerNode } from '../mdm-server/mdm-server';

export interface DeviceFleetDef extends NodeDef {
  mdm: string;
}

export interface DeviceFleetNode extends Node {
  /** The fleet's MDM server node, when one is configured. */
  mdmNode?: MdmServerNode;
}

export interface DeviceActionDef extends NodeDef {
  fleet: string;
  /** Seconds to wait for the device. */
  timeout?: string;
}

export interface DeviceMessage extends NodeMessage {
  device?: Device;
}

export interface ActionInput {
  msg: DeviceMessage;
  device: Device & { udid: string };
  mdm: MdmAdapter;
  /** How long to wait for the device, ms. */
  timeout: number;
}

/** Qualified so every action node shows the same texts from this node's catalog. */
const STATUS = 'node-red-contrib-device-checkout/device-fleet:device-fleet.action';

/**
 * Registers a node that acts on `msg.device` through its fleet's MDM: it passes the message
 * on once `run` resolves (the device acknowledged), and fails with `done(err)` otherwise.
 * What `run` resolves with, if anything, becomes `msg.payload`.
 */
export function registerDeviceAction<C extends DeviceActionDef>(
  RED: NodeAPI,
  type: string,
  run: (config: C, input: ActionInput, node: Node) => Promise<unknown>,
  options: { defaultTimeout?: number; credentials?: Record<string, { type: 'text' | 'password' }> } = {},
): void {
  function DeviceAction(this: Node, config: C): void {
    RED.nodes.createNode(this, config);
    const mdm = (RED.nodes.getNode(config.fleet) as DeviceFleetNode | null)?.mdmNode?.connection;
    const timeout = Number(config.timeout || options.defaultTimeout || 120) * 1000;
    if (!mdm) this.status({ fill: 'red', shape: 'ring', text: RED._(`${STATUS}.no-mdm`) });

    this.on('input', (msg: DeviceMessage, send, done) => {
      const device = msg.device;
      if (!mdm) return done(new CodedError('NO_MDM', RED._(`${STATUS}.no-mdm`)));
      if (!device?.udid) return done(new CodedError('NO_DEVICE', RED._(`${STATUS}.no-device`)));
      const label = device.name || device.serial || device.udid;
      this.status({ fill: 'yellow', shape: 'ring', text: RED._(`${STATUS}.waiting`, { device: label }) });
      run(config, { msg, device: device as ActionInput['device'], mdm, timeout }, this).then(
        (payload) => {
          if (payload !== undefined) msg.payload = payload;
          this.status({ fill: 'green', shape: 'dot', text: RED._(`${STATUS}.done`, { device: label }) });
          send(msg);
          done();
        },
        (err: CodedError) => {
          this.status({ fill: 'red', shape: 'dot', text: RED._(`${STATUS}.failed`, { device: label, code: err.code ?? 'ERROR' }) });
          done(err);
        },
      );
    });
  }
  RED.nodes.registerType(type, DeviceAction, options.credentials ? { credentials: options.credentials } : undefined);
}

export default function (RED: NodeAPI): void {
  function DeviceFleet(this: DeviceFleetNode, config: DeviceFleetDef): void {
    RED.nodes.createNode(this, config);
    this.mdmNode = (RED.nodes.getNode(config.mdm) as MdmServerNode | null) ?? undefined;
  }
  RED.nodes.registerType('device-fleet', DeviceFleet);
}
