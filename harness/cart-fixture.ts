import type { VendorMdm } from './mdm-vendors';
import { helper } from './node-red';
import { waitFor } from './support';
import type { PtyHub } from '../sim/pty-hub';
import type { SimulatedCart } from '../sim/simulated-cart';
import type { SimulatedUsbmuxd } from '../sim/usbmuxd-server';

/** The simulated cart a flow runs on: its hub behind a pty, usbmuxd, and what ties them. */
export interface CartParts {
  pty: PtyHub;
  usb: SimulatedUsbmuxd;
  cart: SimulatedCart;
}

/**
 * Call before a flow starts; what it returns resolves once that flow has read the hub and
 * listens to usbmuxd: a dock from then on is seen and identified.
 */
export function cartWatched({ pty, usb }: CartParts): () => Promise<unknown> {
  const commands = pty.hub.commands.length;
  const listens = usb.listens;
  return () => waitFor('hub read and usbmuxd listened to', () => pty.hub.commands.slice(commands).some((c) => c.trim() === 'state') && usb.listens > listens);
}

/** Stops the flow, then the cart under it. */
export async function stopCartAndFlow({ pty, usb, cart }: CartParts): Promise<void> {
  cart.stop();
  await helper.unload();
  await pty.stop();
  await usb.stop();
  helper.settings({});
}

export interface ReportingCartFlowOptions {
  hubPath: string;
  mdmUrl: string;
  mdmSecrets: { apiKey: string; webhookSecret: string };
  usbSocket: string;
  deadlineSeconds: number;
  /** How long each action waits for its phone, s. */
  waitSeconds: number;
  /** Each step POSTs here with its own path: `/returned`, `/handed`, `/error/<code>`. */
  reportUrl: string;
  /** Inject nodes by id, each tapping with its user. */
  taps: Record<string, string>;
  /** More of the device-fleet's fields (a shared store, its login). */
  fleet?: object;
}

/**
 * Check Out and Return for a cart in its own Node-RED process, each step reporting over HTTP
 * (the tests of carts killed and restarted watch those reports): a failed check-out runs Return.
 */
export function reportingCartFlows(o: ReportingCartFlowOptions): object[] {
  const report = (id: string, z: string, path: string) => ({
    id,
    type: 'http request',
    z,
    method: 'POST',
    ret: 'txt',
    paytoqs: 'ignore',
    url: `${o.reportUrl}${path}`,
    wires: [[]],
  });
  const wait = String(o.waitSeconds);
  return [
    { id: 'return', type: 'tab', label: 'Return' },
    { id: 'check-out', type: 'tab', label: 'Check Out' },
    { id: 'hub', type: 'smart-hub', name: 'Cart', serialPort: o.hubPath, baudRate: '115200', pollInterval: '100', model: 'auto' },
    {
      id: 'mdm',
      type: 'mdm-server',
      vendor: 'nanomdm',
      url: o.mdmUrl,
      maxConcurrent: '5',
      timeout: '5000',
      webhookPath: 'device-checkout/webhook',
      credentials: o.mdmSecrets,
    },
    {
      id: 'fleet',
      type: 'device-fleet',
      mdm: 'mdm',
      usb: o.usbSocket,
      usbWindow: '1',
      lockerApp: 'org.example.locker',
      checkoutDeadline: String(o.deadlineSeconds),
      userLimit: '1',
      batteryThreshold: '20',
      ...o.fleet,
    },
    { id: 'in', type: 'hub-input', z: 'return', hub: 'hub', fleet: 'fleet', wires: [['checkin'], []] },
    { id: 'to-return', type: 'link in', z: 'return', links: ['run-return'], wires: [['checkin']] },
    { id: 'checkin', type: 'check-in-device', z: 'return', fleet: 'fleet', timeout: wait, wires: [['report-returned']] },
    report('report-returned', 'return', '/returned'),
    ...Object.entries(o.taps).map(([id, user]) => ({
      id,
      type: 'inject',
      z: 'check-out',
      props: [{ p: 'user', v: user, vt: 'str' }],
      repeat: '',
      once: false,
      wires: [['checkout']],
    })),
    { id: 'checkout', type: 'check-out-device', z: 'check-out', fleet: 'fleet', suppressBlueLed: true, timeout: wait, wires: [['report-handed']] },
    report('report-handed', 'check-out', '/handed'),
    { id: 'checkout-failure', type: 'on-failure', z: 'check-out', retry: false, maxAttempts: '1', runOther: true, wires: [[], ['run-return']] },
    { id: 'run-return', type: 'link out', z: 'check-out', mode: 'link', links: ['to-return'], wires: [] },
    { id: 'catch-all', type: 'catch', z: 'check-out', scope: null, uncaught: false, wires: [['report-error']] },
    report('report-error', 'check-out', '/error/{{error.code}}'),
  ];
}

/** The locker app the test carts' phones are locked to. */
export const LOCKER_APP = 'org.example.locker';

/** An action node of fleet `fleet` that waits up to 10 s for its phone and passes on to `next`. */
export const fleetAction = (id: string, type: string, next: string, extra: object = {}): object => ({
  id,
  type,
  fleet: 'fleet',
  timeout: '10',
  wires: [[next]],
  ...extra,
});

/**
 * A cart's nodes as an admin wires them around its fleet: the hub behind the pty, the MDM server
 * (`mdm`'s vendor and fields), the device-fleet on usbmuxd `usb` with `fleet`'s fields on top,
 * and a hub input whose docks start `checkin`.
 */
export function cartNodes(pty: PtyHub, mdm: VendorMdm, usb: string, fleet: object): object[] {
  return [
    { id: 'hub', type: 'smart-hub', name: 'Cart', serialPort: pty.hostPath, baudRate: '115200', pollInterval: '100', model: 'auto' },
    { id: 'mdm', type: 'mdm-server', vendor: mdm.vendor, maxConcurrent: '5', timeout: '5000', webhookPath: 'device-checkout/webhook', ...mdm.fields },
    { id: 'fleet', type: 'device-fleet', mdm: 'mdm', usb, usbWindow: '1', lockerApp: LOCKER_APP, ...fleet },
    { id: 'in', type: 'hub-input', hub: 'hub', fleet: 'fleet', wires: [['checkin'], []] },
  ];
}
