import { setMaxListeners } from 'node:events';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { meaning } from '../lib/error-codes';
import { useNodeRedCatalogs } from './catalogs';
import type { Device } from '../lib/device';
import type { AssignedUser, MdmAdapter, PerformOptions } from '../lib/mdm/mdm-adapter';
import { fleetOf } from './config-nodes';
import { type Fleet } from '../lib/fleet/fleet';
import { reportFailure, workflowOf, workflowRuns } from './failure-routing';
import { defaultOf, numberField } from './defaults';
import { clearStatus, failMessage, showStatus } from './status';

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
  /** The device acted on; an action that moves on to another one sets it (its failure is then that one's). */
  device: ActionDevice;
  /** The person the choosing step found (check-out). */
  user?: AssignedUser;
  /** The fleet's MDM; reading it fails with NO_MDM when the fleet has none. */
  readonly mdm: MdmAdapter;
  fleet: Fleet;
  /** How long to wait for the device (ms), and a signal that stops waiting when the node closes (a redeploy): pass it to every MDM call. */
  wait: Required<Pick<PerformOptions, 'timeout' | 'signal'>>;
}

export type ActionDevice = Device & { udid: string };

/** What the choosing step found: the device to act on, and for a check-out the person. */
export interface Chosen {
  device: ActionDevice;
  user?: AssignedUser;
}

/** Actions without a wait field (Delete from MDM, Set Language) still stop waiting at some point. */
const UNLISTED_WAIT_SECONDS = 120;

export interface DeviceActionOptions<C> {
  credentials?: Record<string, { type: 'text' | 'password' }>;
  /**
   * The device to act on; by default `msg.device`, which must have a UDID. A failure here is a
   * refusal (nothing was touched): Catch nodes see it, the workflow's on-failure does not.
   */
  chooseDevice?: (config: C, msg: DeviceMessage, fleet: Fleet, node: Node) => Promise<Chosen>;
  /** Runs once when the node starts, for actions that outlive a message (a check-out deadline). */
  setup?: (node: Node, config: C, fleet: Fleet) => void;
  /** What the status says once the action is done, instead of "done" (a check-out still waits for the unplug). */
  doneStatus?: (node: Node, device: ActionDevice, fleet: Fleet) => void;
}

/** The key prefix of the texts every action node shows, qualified so they come from the device-fleet's catalog. */
const ACTION_TEXT = 'node-red-contrib-device-checkout/device-fleet:device-fleet.action';

/**
 * Reports a failure the way every action does: red status, the workflow's `on-failure`, and
 * Node-RED's own error handling (Catch nodes) through `fail`, which is `done` or `node.error`.
 */
export function failAction(RED: NodeAPI, node: Node, err: CodedError, msg: DeviceMessage, label: string, fail: (err: Error) => void, toWorkflow = true): void {
  if (toWorkflow) reportFailure(node, err, msg as Record<string, unknown>);
  // No device yet (no fleet, a refused tap): the code alone, not "?: NO_FLEET".
  const code = err.code ?? 'ERROR';
  failMessage(node, err, label ? RED._(`${ACTION_TEXT}.failed`, { device: label, code }) : RED._(`${ACTION_TEXT}.failed-alone`, { code }), fail);
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
  useNodeRedCatalogs(RED);
  function DeviceAction(this: Node, config: C): void {
    RED.nodes.createNode(this, config);
    const found = fleetOf(RED, config.fleet);
    const { fleet } = found;
    let { unavailable } = found;
    let timeout = UNLISTED_WAIT_SECONDS * 1000;
    let misconfigured = false;
    try {
      if (defaultOf(type, 'timeout') !== undefined) timeout = numberField(type, config, 'timeout') * 1000;
    } catch (err) {
      // A wait the editor would not have saved (a flow file edited by hand): every message fails with it.
      unavailable = err as CodedError;
      misconfigured = true;
      this.error(unavailable.message);
    }
    // Closed (a redeploy, a stop): every wait of this node's actions ends at once, none outlives it.
    const closing = new AbortController();
    setMaxListeners(0, closing.signal); // one listener per wait in flight: a shift change has hundreds
    this.on('close', () => closing.abort(new CodedError('NODE_CLOSED', RED._(`${ACTION_TEXT}.closed`))));
    if (misconfigured) showStatus(this, 'blocked', RED._(`${ACTION_TEXT}.failed-alone`, { code: 'INVALID_CONFIG' }));
    else if (unavailable) showStatus(this, 'blocked', RED._(`${ACTION_TEXT}.unavailable`));
    else if (!fleet) showStatus(this, 'blocked', RED._(`${ACTION_TEXT}.no-fleet`));
    else {
      options.setup?.(this, config, fleet);
      showProblems(this, fleet);
    }
    const chooseDevice =
      options.chooseDevice ??
      (async (_config: C, msg: DeviceMessage, fleet: Fleet) => {
        if (msg.device?.udid) return { device: msg.device as ActionDevice };
        // A hub and port instead (an inject node's button for one port): the phone docked there.
        const hub = msg.device?.hubId ?? msg.device?.hub;
        const port = msg.device?.port;
        if (!hub || port === undefined) throw new CodedError('NO_DEVICE', RED._(`${ACTION_TEXT}.no-device`));
        const docked = await fleet.dockedAt(hub, Number(port));
        if (!docked) throw new CodedError('NO_DEVICE', RED._(`${ACTION_TEXT}.none-docked`, { hub, port }));
        return { device: docked };
      });

    this.on('input', (msg: DeviceMessage, send, done) => {
      const label = msg.device ? deviceLabel(msg.device) : '';
      if (unavailable) return failAction(RED, this, unavailable, msg, label, done, false);
      if (!fleet) return failAction(RED, this, new CodedError('NO_FLEET', RED._(`${ACTION_TEXT}.no-fleet`)), msg, label, done, false);
      const inputOf = ({ device, user }: Chosen): ActionInput => ({
        msg,
        device,
        user,
        fleet,
        wait: { timeout, signal: closing.signal },
        get mdm() {
          return mdmOf(fleet);
        },
      });
      const act = async (input: ActionInput) => {
        // A run starts once a device was chosen: a refused message is kept for no retry.
        workflowRuns(RED).enter(workflowOf(this), msg as Record<string, unknown>);
        msg.device = input.device;
        showStatus(this, 'waiting', RED._(`${ACTION_TEXT}.waiting`, { device: deviceLabel(input.device) }));
        return run(config, input, this);
      };
      // Through promises, so an action that throws at once fails like one that rejects. A
      // request refused before any device was touched (CART_BUSY, BADGE_NOT_FOUND...) leaves
      // nothing to retry or undo: Catch nodes see it, the workflow's on-failure does not.
      Promise.resolve()
        .then(() => chooseDevice(config, msg, fleet, this))
        .then(
          (chosen) => {
            // The action may move on to another device (a check-out whose phone did not unlock): a failure is that one's.
            const input = inputOf(chosen);
            return act(input).then(
              (payload) => {
                if (payload !== undefined) msg.payload = payload;
                if (options.doneStatus) options.doneStatus(this, input.device, fleet);
                else showStatus(this, 'ok', RED._(`${ACTION_TEXT}.done`, { device: deviceLabel(input.device) }));
                send(msg);
                done();
              },
              async (err: CodedError) => {
                await markFailed(fleet, input.device.udid, this, err);
                failAction(RED, this, err, msg, deviceLabel(input.device), done);
              },
            );
          },
          (err: CodedError) => failAction(RED, this, err, msg, label, done, false),
        );
    });
  }

  /**
   * A workflow that did not finish leaves a docked phone Failed (amber LED), never available:
   * a Return whose Clear Passcode failed must not hand the old passcode to the next person.
   * A phone out with its user is left as it is (its status still counts for her limit).
   */
  async function markFailed(fleet: Fleet, udid: string, node: Node, err: CodedError): Promise<void> {
    try {
      const record = await fleet.store.device(udid);
      if (!record?.docked || record.status === 'Failed') return;
      const actor = { who: node.type, why: err.code ?? err.message };
      // Cut off by a redeploy or a stop: the hubs are going away too, and the next start replays
      // the Return; nothing for an admin to be alerted to, no amber LED.
      if (meaning(err.code).cutOff) await fleet.store.fail(udid, actor);
      else await fleet.setLed(await fleet.fail(udid, actor), 'error');
    } catch (error) {
      node.warn((error as Error).message);
    }
  }

  /**
   * What stops every action of a fleet, shown on each node that uses it until it is over: a
   * disk that refuses the fleet's writes, an MDM whose webhooks (the devices' answers) are refused.
   */
  function showProblems(node: Node, fleet: Fleet): void {
    const mdm = fleet.mdm;
    const show = (): void => {
      const storage = fleet.store.storageError;
      const webhooks = mdm?.webhookProblem;
      if (storage?.code === 'STORE_UNAVAILABLE') showStatus(node, 'blocked', RED._(`${ACTION_TEXT}.store-unavailable`, { code: storage.code }));
      else if (storage) showStatus(node, 'blocked', RED._(`${ACTION_TEXT}.storage-failed`, { code: storage.code }));
      else if (webhooks) showStatus(node, 'blocked', RED._(`${ACTION_TEXT}.webhooks-refused`, { code: webhooks.code }));
      else clearStatus(node);
    };
    fleet.store.on('storage', show);
    mdm?.on('webhook-status', show);
    if (fleet.store.storageError || mdm?.webhookProblem) show();
    node.on('close', () => {
      fleet.store.off('storage', show);
      mdm?.off('webhook-status', show);
    });
  }
  function mdmOf(fleet: Fleet): MdmAdapter {
    const adapter = fleet.mdm;
    if (!adapter) throw new CodedError('NO_MDM', RED._(`${ACTION_TEXT}.no-mdm`));
    return adapter;
  }
  RED.nodes.registerType(type, DeviceAction, options.credentials ? { credentials: options.credentials } : undefined);
}
