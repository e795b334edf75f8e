import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { CodedError } from '../lib/coded-error';
import type { Device } from '../lib/attributes';
import type { MdmAdapter } from '../lib/mdm/mdm-adapter';
import type { DeviceFleetNode } from './device-fleet';

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
  /** The fleet's MDM; reading it fails with NO_MDM when the fleet has none. */
  readonly mdm: MdmAdapter;
  fleet: DeviceFleetNode;
  /** How long to wait for the device, ms. */
  timeout: number;
}

/** Qualified so every action node shows the same texts from this node's catalog. */
const STATUS = 'node-red-contrib-device-checkout/device-fleet:device-fleet.action';

/**
 * Registers a node that acts on `msg.device` through its fleet (its MDM or its USB): it
 * passes the message on once `run` resolves (the device acknowledged), and fails with
 * `done(err)` otherwise. What `run` resolves with, if anything, becomes `msg.payload`.
 */
export function registerDeviceAction<C extends DeviceActionDef>(
  RED: NodeAPI,
  type: string,
  run: (config: C, input: ActionInput, node: Node) => Promise<unknown>,
  options: { defaultTimeout?: number; credentials?: Record<string, { type: 'text' | 'password' }> } = {},
): void {
  function DeviceAction(this: Node, config: C): void {
    RED.nodes.createNode(this, config);
    const fleet = RED.nodes.getNode(config.fleet) as DeviceFleetNode | null;
    const timeout = Number(config.timeout || options.defaultTimeout || 120) * 1000;
    if (!fleet) this.status({ fill: 'red', shape: 'ring', text: RED._(`${STATUS}.no-fleet`) });

    this.on('input', (msg: DeviceMessage, send, done) => {
      const device = msg.device;
      if (!fleet) return done(new CodedError('NO_FLEET', RED._(`${STATUS}.no-fleet`)));
      if (!device?.udid) return done(new CodedError('NO_DEVICE', RED._(`${STATUS}.no-device`)));
      const label = device.name || device.serial || device.udid;
      this.status({ fill: 'yellow', shape: 'ring', text: RED._(`${STATUS}.waiting`, { device: label }) });
      const input: ActionInput = {
        msg,
        device: device as ActionInput['device'],
        fleet,
        timeout,
        get mdm() {
          const connection = fleet.mdmNode?.connection;
          if (!connection) throw new CodedError('NO_MDM', RED._(`${STATUS}.no-mdm`));
          return connection;
        },
      };
      // Through a promise, so an action that throws at once fails like one that rejects.
      Promise.resolve()
        .then(() => run(config, input, this))
        .then(
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
