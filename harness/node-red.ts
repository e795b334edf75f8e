import type { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import helper from 'node-red-node-test-helper';
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import smartHub from '../nodes/smart-hub/smart-hub';
import badgeReader from '../nodes/badge-reader/badge-reader';
import hubInput from '../nodes/hub-input/hub-input';
import hubLed from '../nodes/hub-led/hub-led';
import mdmServer from '../nodes/mdm-server/mdm-server';
import deviceFleet from '../nodes/device-fleet/device-fleet';
import eraseDevice from '../nodes/erase-device/erase-device';
import addWifi from '../nodes/add-wifi/add-wifi';
import setDeviceName from '../nodes/set-device-name/set-device-name';
import clearPasscode from '../nodes/clear-passcode/clear-passcode';
import deleteFromMdm from '../nodes/delete-from-mdm/delete-from-mdm';
import mdmCommand from '../nodes/mdm-command/mdm-command';
import depEnroll from '../nodes/dep-enroll/dep-enroll';
import setLanguage from '../nodes/set-language/set-language';
import checkOutDevice from '../nodes/check-out-device/check-out-device';
import checkInDevice from '../nodes/check-in-device/check-in-device';
import setWallpaper from '../nodes/set-wallpaper/set-wallpaper';
import onFailure from '../nodes/on-failure/on-failure';
import fleetEvent from '../nodes/fleet-event/fleet-event';
import auditExport from '../nodes/audit-export/audit-export';
import cartDisplay from '../nodes/cart-display/cart-display';
import { registerSimulatedCart } from '../sim/transports';
import { checkedText } from './catalog-texts';
import { tempDir } from './support';

helper.init(require.resolve('node-red'));
registerSimulatedCart(); // `sim:` hubs and usbmuxd of this process, for the tests that use them

export { helper };

/**
 * The package's nodes for the test runtime. The helper's RED._ returns bare keys; this one
 * appends the variables too, so a status can be checked for the reason it shows, and fails
 * the test when the catalogs lack the key or one of its values.
 */
export const packageNodes = [
  smartHub,
  badgeReader,
  hubInput,
  hubLed,
  mdmServer,
  deviceFleet,
  eraseDevice,
  addWifi,
  setDeviceName,
  clearPasscode,
  deleteFromMdm,
  mdmCommand,
  depEnroll,
  setLanguage,
  checkOutDevice,
  checkInDevice,
  setWallpaper,
  onFailure,
  fleetEvent,
  auditExport,
  cartDisplay,
].map((register) => (RED: NodeAPI) => {
  (RED as { _: unknown })._ = checkedText;
  testRuntime = RED;
  register(RED);
});

let testRuntime: NodeAPI | undefined;

/** The test runtime's node HTTP app (where `http in` nodes and the package's pages are served): a test puts it on a port of its own. */
export function nodeHttpApp(): NodeAPI['httpNode'] {
  if (!testRuntime) throw new Error('no flow loaded yet');
  return testRuntime.httpNode;
}

type Flow = Parameters<typeof helper.load>[1];

/** Gives the test runtime a fresh user directory with the fleets' folder in it. */
export function freshUserDir(): string {
  const userDir = tempDir('userdir');
  mkdirSync(join(userDir, 'device-checkout'));
  helper.settings({ userDir });
  return userDir;
}

/** Starts `flow` with the package's nodes (and `credentials` by node id). */
export function load(flow: object[], credentials: Record<string, object> = {}): Promise<void> {
  return helper.load(packageNodes, flow as Flow, credentials);
}

/** Deploys `flow` over the running one, as the editor's Deploy button does. */
export function deploy(flow: object[], type: 'full' | 'flows' | 'nodes' = 'full'): Promise<void> {
  return (helper as unknown as { setFlows(flow: object[], type: string): Promise<void> }).setFlows(flow, type);
}

/** The helper spies on node methods and emits `call:<method>` with each call. */
function spied(id: string): EventEmitter {
  return helper.getNode(id) as unknown as EventEmitter;
}

/** Every message that reaches the helper node `id`. */
export function collect(id: string): NodeMessage[] {
  const messages: NodeMessage[] = [];
  helper.getNode(id).on('input', (msg: NodeMessage) => messages.push(msg));
  return messages;
}

type Status = { fill?: string; shape?: string; text?: string };

/** The status calls of node `id` from now on. */
export function statuses(id: string): Status[] {
  const seen: Status[] = [];
  spied(id).on('call:status', (call: { args: [Status] }) => seen.push(call.args[0]));
  return seen;
}

/** The arguments of node `id`'s error(), warn() and log() calls from now on. */
export function reports(id: string, method: 'error' | 'warn' | 'log'): unknown[] {
  const seen: unknown[] = [];
  spied(id).on(`call:${method}`, (call: { args: unknown[] }) => seen.push(call.args[0]));
  return seen;
}

export function send(id: string, msg: object): void {
  (helper.getNode(id) as Node).receive(msg as NodeMessage);
}
