import type { Node, NodeAPI } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { meaning } from '../lib/error-codes';
import { forgetBadge, forgetPassword, lookUpBadge, type BadgeHolder } from '../lib/fleet/badge-lookup';
import { checkDisplayName, checkUserId } from '../lib/fleet/person';
import { lockToLockerApp, tellLockerApp } from '../lib/fleet/locker-app';
import type { Device } from '../lib/device';
import type { AssignedUser, MdmAdapter } from '../lib/mdm/mdm-adapter';
import type { Fleet } from '../lib/fleet/fleet';
import { asDevice } from '../lib/fleet/fleet-events';
import { numberField } from '../shared/defaults';
import { showStatus } from '../shared/status';
import {
  deviceLabel,
  failAction,
  NO_LOCKER_APP,
  registerDeviceAction,
  type ActionDevice,
  type ActionInput,
  type DeviceActionDef,
  type DeviceMessage,
} from '../shared/device-action';

interface CheckOutDef extends DeviceActionDef {
  /** Green stays on while the MDM works, instead of blue "deployment in progress". */
  suppressBlueLed?: boolean;
  /** Phones one tap may try when one does not unlock within `timeout` (1: no second phone). */
  unlockPhones?: string;
}

interface CheckOutMessage extends DeviceMessage {
  user?: unknown;
  badge?: unknown;
  password?: unknown;
}

/**
 * Who is checking out: `msg.user` with `msg.password` signing in through the fleet's directory
 * (a bind as that person), `msg.user` alone (a username, or `{id, name}`: the flow vouches for
 * it), else `msg.badge` through the directory or the lookup service. Ids and names are checked
 * (INVALID_USER); the password and the badge id are gone from the message from then on,
 * wherever in it they were, and `msg.user` names the person found instead.
 */
async function userOf(RED: NodeAPI, msg: CheckOutMessage, fleet: Fleet): Promise<AssignedUser> {
  const { user, badge, password } = msg;
  const person = (id: unknown, name?: unknown): AssignedUser => {
    const display = checkDisplayName(name);
    return { id: checkUserId(id), ...(display && { name: display }) };
  };
  const found = (holder: BadgeHolder): AssignedUser => {
    const assigned = person(holder.user, holder.name);
    msg.user = assigned;
    return assigned;
  };
  if (password !== undefined) {
    forgetPassword(msg as Record<string, unknown>);
    if (!fleet.directory) throw new CodedError('NO_DIRECTORY', RED._('check-out-device.errors.no-directory'));
    return found(await fleet.directory.signIn(typeof user === 'string' ? user : '', typeof password === 'string' ? password : ''));
  }
  if (typeof user === 'string' && user.trim()) return person(user);
  if (user && typeof user === 'object' && typeof (user as AssignedUser).id === 'string' && (user as AssignedUser).id.trim()) {
    return person((user as AssignedUser).id, (user as AssignedUser).name);
  }
  if (typeof badge === 'string' || typeof badge === 'number') {
    forgetBadge(msg, badge);
    if (fleet.badgesFromDirectory) return found(await fleet.directory!.badgeHolder(String(badge)));
    if (!fleet.badgeLookupUrl) throw new CodedError('NO_BADGE_LOOKUP', RED._('check-out-device.errors.no-badge-lookup'));
    return found(await lookUpBadge(fleet.badgeLookupUrl, String(badge)));
  }
  throw new CodedError('NO_USER', RED._('check-out-device.errors.no-user'));
}

/** Her name and the port to take the phone from on the cart's screen (when the fleet has one), as the LED turns green. */
function welcomeOnScreen(fleet: Fleet, user: AssignedUser, device: ActionDevice): void {
  const deadline = new Date(Date.now() + fleet.rules.deadlineSeconds * 1000).toISOString();
  fleet.screen?.accepted(user.name ?? user.id, { udid: device.udid, hub: device.hub, port: device.port, deadline });
}

/** Tells the person at the cart (the fleet's screen, when it has one) why her tap or sign-in got no phone. */
async function tellScreen(fleet: Fleet, err: unknown, user?: AssignedUser): Promise<void> {
  const { screen } = fleet;
  const code = (err as CodedError).code ?? 'ERROR';
  if (!screen || code === 'NODE_CLOSED') return;
  const held = code === 'USER_HAS_DEVICE' && user ? await fleet.placeOfPhoneHeldBy(user.id).catch(() => undefined) : undefined;
  const minutes = (err as CodedError).text?.values?.minutes;
  screen.refused(code, { name: user?.name ?? user?.id, ...(held && { held }), ...(typeof minutes === 'number' && { minutes }) });
}

/** How long a released phone's lock waits behind its unlock at the MDM (a phone may wake much later). */
const RELOCK_WAIT_MS = 3_600_000;

/** The most of a message kept in the fleet file to report a late failure with (after a restart too). */
const STORED_MESSAGE_LIMIT = 16 * 1024;

/** What JSON keeps of the message (no HTTP request objects), to report a late failure with; a large one is cut to its id and user. */
function storable(msg: CheckOutMessage): Record<string, unknown> {
  const { req: _req, res: _res, ...rest } = msg as CheckOutMessage & { req?: unknown; res?: unknown };
  const minimal = { _msgid: msg._msgid, user: msg.user };
  try {
    const text = JSON.stringify(rest);
    return text.length <= STORED_MESSAGE_LIMIT ? (JSON.parse(text) as Record<string, unknown>) : minimal;
  } catch {
    return minimal;
  }
}

/** Check-out nodes waiting for the deploy to start: one listener on the runtime for all of them, however many a flow has. */
const waitingForStart = new Set<() => void>();

/** Runs `work` once every node of the deploy has started; returns what cancels it. */
function whenFlowsStarted(RED: NodeAPI, work: () => void): () => void {
  if (waitingForStart.size === 0) {
    RED.events.once('flows:started', () => {
      const started = [...waitingForStart];
      waitingForStart.clear();
      started.forEach((run) => run());
    });
  }
  waitingForStart.add(work);
  return () => void waitingForStart.delete(work);
}

export default function (RED: NodeAPI): void {
  /**
   * Unlocks the phone for the person: green while the MDM works, then flashing white once the
   * phone acknowledged the locker app's configuration and the unlock.
   */
  async function unlock(
    config: CheckOutDef,
    device: ActionDevice,
    user: AssignedUser,
    fleet: Fleet,
    mdm: MdmAdapter,
    wait: ActionInput['wait'],
  ): Promise<Device> {
    // A failure from here on leaves the phone Failed with an amber LED (the action kit does it).
    // Green shows while the MDM works: neither waits for the other.
    const shown = Promise.all([fleet.setLed(device, 'granted'), config.suppressBlueLed === false && fleet.setLed(device, 'deploying')]);
    const unlocked = (async () => {
      // Her name first: where the MDM fills the app's configuration from its assigned user (Intune), the unlock brings it.
      await mdm.assignUser(device.udid, user);
      await tellLockerApp(mdm, fleet.lockerApp, device.udid, user, wait);
      await mdm.setAppLock(device.udid, undefined, wait);
    })();
    await Promise.all([shown, unlocked]);
    const now = asDevice((await fleet.store.device(device.udid))!);
    // Taken already (a quick hand)? Then the port is dark; otherwise: flashing white, take me.
    if (now.status === 'Checking Out') await fleet.setLed(now, 'ready');
    return now;
  }

  /**
   * A phone that did not unlock in time (or refused to) is released: Failed with the reason,
   * amber LED, an `unlock-failed` event, and locked again should it still run what it was sent.
   * False when the person has taken it meanwhile: hers, and nothing to fall back from.
   */
  async function release(device: ActionDevice, err: CodedError, fleet: Fleet, mdm: MdmAdapter, signal: AbortSignal, node: Node): Promise<boolean> {
    const record = await fleet.store.device(device.udid);
    if (!record?.docked || record.status !== 'Checking Out') return false;
    await fleet.setLed(await fleet.fail(device.udid, { who: node.type, why: `UNLOCK_FAILED: ${err.code}` }, 'unlock-failed'), 'error');
    // Queued behind the unlock: a phone that wakes later runs both, and ends locked with nobody's name.
    lockToLockerApp(mdm, fleet.lockerApp, device.udid, { timeout: RELOCK_WAIT_MS, signal }).catch((error: CodedError) => {
      if (error.code !== 'DEVICE_TIMEOUT' && error.code !== 'NODE_CLOSED') node.warn(error.message);
    });
    return true;
  }

  /** The node's status while its phone waits to be taken: counts down to the deadline, then says it was taken. */
  const waitingToBeTaken = new WeakMap<Node, () => void>();
  function showWaiting(node: Node, device: ActionDevice, fleet: Fleet): void {
    waitingToBeTaken.get(node)?.();
    const label = deviceLabel(device);
    let deadline = Date.now() + fleet.rules.deadlineSeconds * 1000;
    const tick = (): void =>
      showStatus(
        node,
        'waiting',
        RED._('check-out-device.status.waiting-taken', { device: label, seconds: Math.max(0, Math.ceil((deadline - Date.now()) / 1000)) }),
      );
    const timer = setInterval(tick, 1000);
    const stop = (): void => {
      clearInterval(timer);
      fleet.store.off('change', onChange);
      node.off('close', stop);
      waitingToBeTaken.delete(node);
    };
    const onChange = (record: { udid: string; status: string }): void => {
      if (record.udid !== device.udid) return;
      if (record.status === 'Checked Out') showStatus(node, 'ok', RED._('check-out-device.status.taken', { device: label }));
      if (record.status !== 'Checking Out') stop(); // taken, or its deadline's failure says so
    };
    fleet.store.on('change', onChange);
    node.on('close', stop);
    waitingToBeTaken.set(node, stop);
    // The database away (a failover just after the hand-out): the countdown keeps the fleet's deadline.
    fleet.store.device(device.udid).then(
      (record) => {
        if (!record || record.status !== 'Checking Out') return onChange(record ?? { udid: device.udid, status: '' });
        if (record.checkout) deadline = Date.parse(record.checkout.deadline);
        tick();
      },
      () => undefined,
    );
    tick();
  }

  /**
   * Unlocks a phone for the person: one that does not answer or refuses is released and the next
   * best handed out within the same tap, at most `phones` in all.
   */
  async function unlockOneOf(phones: number, config: CheckOutDef, input: ActionInput, node: Node): Promise<void> {
    const { msg, user, fleet, mdm, wait } = input;
    for (let tried = 1; ; tried++) {
      try {
        msg.device = await unlock(config, input.device, user!, fleet, mdm, wait);
        return;
      } catch (err) {
        // A phone that does not answer or refuses is swapped; the MDM's own failures are not: the next phone would fare no better.
        if (!meaning((err as CodedError).code).unresponsive || !(await release(input.device, err as CodedError, fleet, mdm, wait.signal, node))) throw err;
        const unlockFailed = new CodedError('UNLOCK_FAILED', RED._('check-out-device.errors.unlock-failed', { phones: tried, code: (err as CodedError).code }));
        if (tried >= phones) throw unlockFailed;
        node.warn(RED._('check-out-device.errors.next-phone', { device: deviceLabel(input.device), code: (err as CodedError).code }));
        // No other phone to hand out: the person is told that hers did not unlock.
        input.device = await fleet.beginCheckout(user!, undefined, { node: node.id, message: storable(msg) }).catch((refusal: CodedError) => {
          throw refusal.code === 'NO_DEVICE_AVAILABLE' ? unlockFailed : refusal;
        });
        welcomeOnScreen(fleet, user!, input.device);
        msg.device = input.device;
      }
    }
  }

  registerDeviceAction<CheckOutDef>(
    RED,
    'check-out-device',
    async (config, input, node) => {
      try {
        await unlockOneOf(Math.max(1, Math.floor(numberField('check-out-device', config, 'unlockPhones'))), config, input, node);
      } catch (err) {
        await tellScreen(input.fleet, err, input.user);
        throw err;
      }
    },
    {
      doneStatus: showWaiting,
      chooseDevice: async (_config, msg: CheckOutMessage, fleet, node) => {
        if (!fleet.lockerApp) throw new CodedError('INVALID_CONFIG', RED._(NO_LOCKER_APP));
        let user: AssignedUser | undefined;
        try {
          user = await userOf(RED, msg, fleet);
          const device = await fleet.beginCheckout(user, msg.device?.udid, { node: node.id, message: storable(msg) });
          welcomeOnScreen(fleet, user, device);
          return { device, user };
        } catch (err) {
          await tellScreen(fleet, err, user);
          throw err;
        }
      },
      // A check-out not completed by an unplug in time fails here, even one from before a
      // restart: once every node has started, so the workflow's on-failure is there to hear it.
      setup: (node: Node, _config, fleet) => {
        let unwatch = () => {};
        const watch = () => {
          unwatch = fleet.watchCheckouts(node.id, ({ device, checkout }) => {
            const msg = { ...checkout.message, device } as DeviceMessage;
            fleet.screen?.refused('UNPLUG_TIMEOUT', { name: device.userName ?? device.user });
            const err = new CodedError(
              'UNPLUG_TIMEOUT',
              RED._('check-out-device.errors.unplug-timeout', { device: deviceLabel(device), seconds: fleet.rules.deadlineSeconds }),
            );
            failAction(RED, node, err, msg, deviceLabel(device), (error) => node.error(error, msg));
          });
        };
        const cancel = whenFlowsStarted(RED, watch);
        // Sign-ins on the cart's screen come in here, as a flow's msg.user and msg.password would.
        const stopSignIns = fleet.screen?.takeSignIns(node.id, (user, password) => node.receive({ user, password } as never));
        node.on('close', () => {
          cancel();
          unwatch();
          stopSignIns?.();
        });
      },
    },
  );
}
