import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { CodedError } from '../lib/coded-error';
import type { Device } from '../lib/attributes';
import type { MdmAdapter } from '../lib/mdm/mdm-adapter';
import type { DeviceFleetNode } from './device-fleet';
import { reportFailure, workflowOf, workflowRuns } from '../on-failure/failure-routing';

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
  device: ActionDevice;
  /** The fleet's MDM; reading it fails with NO_MDM when the fleet has none. */
  readonly mdm: MdmAdapter;
  fleet: DeviceFleetNode;
  /** How long to wait for the device, ms. */
  timeout: number;
}

export type ActionDevice = Device & { udid: string };

export interface DeviceActionOptions<C> {
  defaultTimeout?: number;
  credentials?: Record<string, { type: 'text' | 'password' }>;
  /** The device to act on; by default `msg.device`, which must have a UDID. */
  chooseDevice?: (config: C, msg: DeviceMessage, fleet: DeviceFleetNode, node: Node) => Promise<ActionDevice>;
  /** Runs once when the node starts, for actions that outlive a message (a check-out deadline). */
  setup?: (node: Node, config: C, fleet: DeviceFleetNode) => void;
}

/** Qualified so every action node shows the same texts from this node's catalog. */
export const STATUS = 'node-red-contrib-device-checkout/device-fleet:device-fleet.action';

/**
 * Reports a failure the way every action does: red status, the workflow's `on-failure`, and
 * Node-RED's own error handling (Catch nodes) through `fail`, which is `done` or `node.error`.
 */
export function failAction(RED: NodeAPI, node: Node, err: CodedError, msg: DeviceMessage, label: string, fail: (err: Error) => void, toWorkflow = true): void {
  node.status({ fill: 'red', shape: 'dot', text: RED._(`${STATUS}.failed`, { device: label, code: err.code ?? 'ERROR' }) });
  if (toWorkflow) reportFailure(node, err, msg as Record<string, unknown>);
  fail(err);
}

export const NO_LOCKER_APP = 'node-red-contrib-device-checkout/device-fleet:device-fleet.errors.no-locker-app';

export const deviceLabel = (device: Device): string => device.name || device.serial || device.udid || '?';

/**
 * Registers a node that acts on `msg.device` through its fleet (its MDM or its USB): it
 * passes the message on once `run` resolves (the device acknowledged), and fails with
 * `done(err)` otherwise. What `run` resolves with, if anything, becomes `msg.payload`.
 */
export function registerDeviceAction<C extends DeviceActionDef>(
  RED: NodeAPI,
  type: string,
  run: (config: C, input: ActionInput, node: Node) => Promise<unknown>,
  options: DeviceActionOptions<C> = {},
): void {
  function DeviceAction(this: Node, config: C): void {
    RED.nodes.createNode(this, config);
    const fleet = RED.nodes.getNode(config.fleet) as DeviceFleetNode | null;
    const timeout = Number(config.timeout || options.defaultTimeout || 120) * 1000;
    if (!fleet) this.status({ fill: 'red', shape: 'ring', text: RED._(`${STATUS}.no-fleet`) });
    else options.setup?.(this, config, fleet);
    const chooseDevice =
      options.chooseDevice ??
      (async (_config: C, msg: DeviceMessage) => {
        if (!msg.device?.udid) throw new CodedError('NO_DEVICE', RED._(`${STATUS}.no-device`));
        return msg.device as ActionDevice;
      });

    this.on('input', (msg: DeviceMessage, send, done) => {
      workflowRuns(RED).enter(workflowOf(this), msg as Record<string, unknown>);
      let label = msg.device ? deviceLabel(msg.device) : '?';
      if (!fleet) return failAction(RED, this, new CodedError('NO_FLEET', RED._(`${STATUS}.no-fleet`)), msg, label, done);
      const act = async (device: ActionDevice) => {
        label = deviceLabel(device);
        this.status({ fill: 'yellow', shape: 'ring', text: RED._(`${STATUS}.waiting`, { device: label }) });
        const input: ActionInput = {
          msg,
          device,
          fleet,
          timeout,
          get mdm() {
            return mdmOf(fleet);
          },
        };
        return run(config, input, this);
      };
      // Through promises, so an action that throws at once fails like one that rejects. A
      // request refused before any device was touched (CART_BUSY, BADGE_NOT_FOUND...) leaves
      // nothing to retry or undo: Catch nodes see it, the workflow's on-failure does not.
      Promise.resolve()
        .then(() => chooseDevice(config, msg, fleet, this))
        .then(
          (device) =>
            act(device).then(
              (payload) => {
                if (payload !== undefined) msg.payload = payload;
                this.status({ fill: 'green', shape: 'dot', text: RED._(`${STATUS}.done`, { device: label }) });
                send(msg);
                done();
              },
              (err: CodedError) => failAction(RED, this, err, msg, label, done),
            ),
          (err: CodedError) => failAction(RED, this, err, msg, label, done, false),
        );
    });
  }
  function mdmOf(fleet: DeviceFleetNode): MdmAdapter {
    const connection = fleet.mdmNode?.connection;
    if (!connection) throw new CodedError('NO_MDM', RED._(`${STATUS}.no-mdm`));
    return connection;
  }
  RED.nodes.registerType(type, DeviceAction, options.credentials ? { credentials: options.credentials } : undefined);
}
