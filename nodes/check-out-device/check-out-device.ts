import type { Node, NodeAPI } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { lookUpBadge } from '../lib/fleet/badge-lookup';
import { lockerAppConfiguration } from '../lib/fleet/locker-app';
import type { AssignedUser } from '../lib/mdm/mdm-adapter';
import { applicationConfiguration, settings } from '../lib/mdm/commands';
import { asDevice, type DeviceFleetNode } from '../device-fleet/device-fleet';
import { deviceLabel, failAction, NO_LOCKER_APP, registerDeviceAction, type DeviceActionDef, type DeviceMessage } from '../device-fleet/device-action';

interface CheckOutDef extends DeviceActionDef {
  /** Green stays on while the MDM works, instead of blue "deployment in progress". */
  suppressBlueLed?: boolean;
}

interface CheckOutMessage extends DeviceMessage {
  user?: unknown;
  badge?: unknown;
}

/** Who is checking out: `msg.user` (a username, or `{id, name}`), else `msg.badge` through the lookup service. */
async function userOf(RED: NodeAPI, msg: CheckOutMessage, fleet: DeviceFleetNode): Promise<AssignedUser> {
  const { user, badge } = msg;
  if (typeof user === 'string' && user.trim()) return { id: user.trim() };
  if (user && typeof user === 'object' && typeof (user as AssignedUser).id === 'string' && (user as AssignedUser).id.trim()) {
    const { id, name } = user as AssignedUser;
    return { id: id.trim(), ...(typeof name === 'string' && name && { name }) };
  }
  if (typeof badge === 'string' || typeof badge === 'number') {
    if (!fleet.badgeLookupUrl) throw new CodedError('NO_BADGE_LOOKUP', RED._('check-out-device.errors.no-badge-lookup'));
    const holder = await lookUpBadge(fleet.badgeLookupUrl, String(badge));
    return { id: holder.user, ...(holder.name && { name: holder.name }) };
  }
  throw new CodedError('NO_USER', RED._('check-out-device.errors.no-user'));
}

/** What JSON keeps of the message (never the badge id nor HTTP request objects), to report a late failure with after a restart. */
function storable(msg: CheckOutMessage): Record<string, unknown> {
  const { req: _req, res: _res, badge: _badge, ...rest } = msg as CheckOutMessage & { req?: unknown; res?: unknown };
  try {
    return JSON.parse(JSON.stringify(rest)) as Record<string, unknown>;
  } catch {
    return { _msgid: msg._msgid, user: msg.user };
  }
}

export default function (RED: NodeAPI): void {
  const users = new WeakMap<CheckOutMessage, AssignedUser>();

  registerDeviceAction<CheckOutDef>(
    RED,
    'check-out-device',
    async (config, { msg, device, fleet, mdm, timeout }) => {
      const user = users.get(msg)!;
      const options = { timeout };
      try {
        await fleet.setLed(device, 'granted');
        if (config.suppressBlueLed === false) await fleet.setLed(device, 'deploying');
        await mdm.perform(device.udid, settings(applicationConfiguration(fleet.lockerApp, lockerAppConfiguration(user))), options);
        await mdm.setAppLock(device.udid, undefined, options);
        await mdm.assignUser(device.udid, user);
      } catch (err) {
        const failed = fleet.store.failCheckout(device.udid, { who: user.id, why: (err as CodedError).code ?? (err as Error).message });
        await fleet.setLed(failed, 'error').catch(() => undefined);
        throw err;
      }
      const now = asDevice(fleet.store.device(device.udid)!);
      // Taken already (a quick hand)? Then the port is dark; otherwise: flashing white, take me.
      if (now.status === 'Checking Out') await fleet.setLed(now, 'ready');
      msg.device = now;
    },
    {
      chooseDevice: async (_config, msg: CheckOutMessage, fleet, node) => {
        if (!fleet.lockerApp) throw new CodedError('INVALID_CONFIG', RED._(NO_LOCKER_APP));
        const user = await userOf(RED, msg, fleet);
        users.set(msg, user);
        const device = fleet.beginCheckout(user.id, msg.device?.udid, { node: node.id, message: storable(msg) });
        msg.device = device;
        return device;
      },
      // A check-out not completed by an unplug in time fails here, even one from before a
      // restart: once every node has started, so the workflow's on-failure is there to hear it.
      setup: (node: Node, _config, fleet) => {
        let unwatch = () => {};
        const watch = () => {
          unwatch = fleet.watchCheckouts(node.id, ({ device, checkout }) => {
            const msg = { ...checkout.message, device } as DeviceMessage;
            const err = new CodedError('UNPLUG_TIMEOUT', RED._('check-out-device.errors.unplug-timeout', { device: deviceLabel(device), seconds: fleet.rules.deadlineSeconds }));
            failAction(RED, node, err, msg, deviceLabel(device), (error) => node.error(error, msg));
          });
        };
        RED.events.once('flows:started', watch);
        node.on('close', () => {
          RED.events.removeListener('flows:started', watch);
          unwatch();
        });
      },
    },
  );
}
