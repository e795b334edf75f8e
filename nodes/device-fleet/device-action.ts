import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { CodedError } from '../lib/coded-error';
import type { Device } from '../lib/attributes';
import type { AssignedUser, MdmAdapter } from '../lib/mdm/mdm-adapter';
import { asDevice, type DeviceFleetNode } from './device-fleet';
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
  /** The person the choosing step found (check-out). */
  user?: AssignedUser;
  /** The fleet's MDM; reading it fails with NO_MDM when the fleet has none. */
  readonly mdm: MdmAdapter;
  fleet: DeviceFleetNode;
  /** How long to wait for the device, ms. */
  timeout: number;
}

export type ActionDevice = Device & { udid: string };

/** What the choosing step found: the device to act on, and for a check-out the person. */
export interface Chosen {
  device: ActionDevice;
  user?: AssignedUser;
}

export interface DeviceActionOptions<C> {
  defaultTimeout?: number;
  credentials?: Record<string, { type: 'text' | 'password' }>;
  /**
   * The device to act on; by default `msg.device`, which must have a UDID. A failure here is a
   * refusal (nothing was touched): Catch nodes see it, the workflow's on-failure does not.
   */
  chooseDevice?: (config: C, msg: DeviceMessage, fleet: DeviceFleetNode, node: Node) => Promise<Chosen>;
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

/**
 * How statuses name a phone: its name (else serial, else UDID) and where it is now, so a phone
 * named after another port ("Cart B 5" docked on Cart A 6) is still found.
 */
export function deviceLabel(device: Device): string {
  const who = device.name || device.serial || device.udid || '?';
  if (device.hub === undefined || device.port === undefined) return who;
  const where = `${device.hub} ${device.port}`;
  return who === where ? who : `${who} (${where})`;
}

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
    else if (fleet.unavailable) this.status({ fill: 'red', shape: 'ring', text: RED._(`${STATUS}.unavailable`) });
    else {
      options.setup?.(this, config, fleet);
      showProblems(this, fleet);
    }
    const chooseDevice =
      options.chooseDevice ??
      (async (_config: C, msg: DeviceMessage) => {
        if (!msg.device?.udid) throw new CodedError('NO_DEVICE', RED._(`${STATUS}.no-device`));
        return { device: msg.device as ActionDevice };
      });

    this.on('input', (msg: DeviceMessage, send, done) => {
      let label = msg.device ? deviceLabel(msg.device) : '?';
      if (!fleet) return failAction(RED, this, new CodedError('NO_FLEET', RED._(`${STATUS}.no-fleet`)), msg, label, done, false);
      if (fleet.unavailable) return failAction(RED, this, fleet.unavailable, msg, label, done, false);
      const act = async ({ device, user }: Chosen) => {
        // A run starts once a device was chosen: a refused message is kept for no retry.
        workflowRuns(RED).enter(workflowOf(this), msg as Record<string, unknown>);
        msg.device = device;
        label = deviceLabel(device);
        this.status({ fill: 'yellow', shape: 'ring', text: RED._(`${STATUS}.waiting`, { device: label }) });
        const input: ActionInput = {
          msg,
          device,
          user,
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
          (chosen) =>
            act(chosen).then(
              (payload) => {
                if (payload !== undefined) msg.payload = payload;
                this.status({ fill: 'green', shape: 'dot', text: RED._(`${STATUS}.done`, { device: label }) });
                send(msg);
                done();
              },
              async (err: CodedError) => {
                await markFailed(fleet, chosen.device.udid, this, err);
                failAction(RED, this, err, msg, label, done);
              },
            ),
          (err: CodedError) => failAction(RED, this, err, msg, label, done, false),
        );
    });
  }

  /**
   * A workflow that did not finish leaves a docked phone Failed (amber LED), never available:
   * a Return whose Clear Passcode failed must not hand the old passcode to the next person.
   * A phone out with its user is left as it is (its status still counts for her limit).
   */
  async function markFailed(fleet: DeviceFleetNode, udid: string, node: Node, err: CodedError): Promise<void> {
    const record = fleet.store.device(udid);
    if (!record?.docked || record.status === 'Failed') return;
    try {
      const failed = fleet.store.fail(udid, { who: node.type, why: err.code ?? err.message });
      // Cut off by a redeploy or a stop: the hubs are going away too; the next start replays the Return.
      if (err.code !== 'MDM_CLOSED') await fleet.setLed(asDevice(failed), 'error');
    } catch (error) {
      node.warn((error as Error).message);
    }
  }

  /**
   * What stops every action of a fleet, shown on each node that uses it until it is over: a
   * disk that refuses the fleet's writes, an MDM whose webhooks (the devices' answers) are refused.
   */
  function showProblems(node: Node, fleet: DeviceFleetNode): void {
    const mdm = fleet.mdmNode?.connection;
    const show = (): void => {
      const storage = fleet.store.storageError;
      const webhooks = mdm?.webhookProblem;
      if (storage) node.status({ fill: 'red', shape: 'ring', text: RED._(`${STATUS}.storage-failed`, { code: storage.code }) });
      else if (webhooks) node.status({ fill: 'red', shape: 'ring', text: RED._(`${STATUS}.webhooks-refused`, { code: webhooks.code }) });
      else node.status({});
    };
    fleet.store.on('storage', show);
    mdm?.on('webhook-status', show);
    if (fleet.store.storageError || mdm?.webhookProblem) show();
    node.on('close', () => {
      fleet.store.off('storage', show);
      mdm?.off('webhook-status', show);
    });
  }
  function mdmOf(fleet: DeviceFleetNode): MdmAdapter {
    const connection = fleet.mdmNode?.connection;
    if (!connection) throw new CodedError('NO_MDM', RED._(`${STATUS}.no-mdm`));
    return connection;
  }
  RED.nodes.registerType(type, DeviceAction, options.credentials ? { credentials: options.credentials } : undefined);
}
