import type { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import helper from 'node-red-node-test-helper';
import type { NodeMessage } from 'node-red';
import { packageNodes } from '../harness/node-red';
import { tempDir } from '../harness/support';
import type { FleetStore } from '../nodes/lib/fleet/fleet-store';
import { simulatedHub } from '../sim/hub-registry';
import { SimulatedCart, locationOf } from '../sim/simulated-cart';
import { SimulatedDevice } from '../sim/simulated-device';
import { simulatedUsbmuxd } from '../sim/usbmuxd-server';
import { API_KEY, LOCKER, MDM_LATENCY_MS, WEBHOOK_KEY, mdmServer, startMdm } from './checkout';
import { median, sleep } from './stats';

/** How long the simulated phone takes from acknowledging the erase to enrolling again, ms: its own time, the floor. */
const REENROL_MS = 1000;

export interface PrepResult {
  phones: number;
  rounds: number;
  /** Wall time of one phone's Prep, ms, medians. */
  usb: number;
  handsFree: number;
  /** MDM requests each Prep sent for one phone. */
  usbRequests: number;
  handsFreeRequests: number;
}

/**
 * Device Prep (erase, wait for enrolment, Wi-Fi, name, language over USB, check in, black
 * wallpaper) against the Hands-free Prep (Return to Service: the same without USB, with the
 * phone's iOS and Activation Lock asked first), one phone at a time, each phone through both in
 * turn, on a cart of `phones` docked phones whose MDM answers in 20 ms and which enrol again
 * 1 s after an erase acknowledged.
 */
export async function measurePrep(phones: number, rounds: number): Promise<PrepResult> {
  helper.init(require.resolve('node-red'));
  const userDir = tempDir('bench-prep');
  helper.settings({ userDir });
  const { mdm, close } = await startMdm({ reenrolDelay: REENROL_MS });
  const hub = simulatedHub(`prep-${process.pid}`, { ports: phones });
  const usb = await simulatedUsbmuxd('bench-prep');
  const cart = new SimulatedCart([hub], usb, 100);
  mkdirSync(join(userDir, 'device-checkout'), { recursive: true });
  const locations = Object.fromEntries(Array.from({ length: phones }, (_, p) => [`hub#${p + 1}`, locationOf(0, p + 1)]));
  writeFileSync(join(userDir, 'device-checkout', 'usb-locations-fleet.json'), JSON.stringify(locations));
  const step = (id: string, type: string, next: string, extra: object = {}) => ({ id, type, fleet: 'fleet', timeout: '60', wires: [[next]], ...extra });
  const tail = (prefix: string, afterName: string) => [
    step(`${prefix}-checkin`, 'check-in-device', `${prefix}-black`),
    step(`${prefix}-black`, 'set-wallpaper', `${prefix}-done`, { text: '', background: 'black', where: 'lock' }),
    { id: `${prefix}-done`, type: 'helper' },
    { id: `${prefix}-name`, type: 'set-device-name', fleet: 'fleet', timeout: '60', deviceName: '[Hub] [Port]', via: 'mdm', wires: [[afterName]] },
  ];
  await helper.load(
    packageNodes,
    [
      { id: 'hub', type: 'smart-hub', name: 'Cart', serialPort: `sim:prep-${process.pid}`, baudRate: '115200', pollInterval: '250', model: 'auto' },
      { id: 'in', type: 'hub-input', hub: 'hub', fleet: 'fleet', wires: [[], []] },
      mdmServer(mdm),
      { id: 'fleet', type: 'device-fleet', mdm: 'mdm', usb: 'sim:bench-prep', usbWindow: '2', lockerApp: LOCKER },
      // Device Prep, as its example.
      step('usb-erase', 'erase-device', 'usb-enrol', { disallowProximitySetup: true, returnToService: false }),
      step('usb-enrol', 'dep-enroll', 'usb-wifi', { depProxyUrl: '', profileUuid: '', sendDeviceConfigured: false }),
      step('usb-wifi', 'add-wifi', 'usb-name', { ssid: 'Ward WLAN', security: 'WPA2', hidden: false, autoJoin: true }),
      ...tail('usb', 'usb-language'),
      step('usb-language', 'set-language', 'usb-checkin', { language: 'en', locale: 'en_GB' }),
      // Hands-free Prep, as its example.
      step('free-erase', 'erase-device', 'free-back', { disallowProximitySetup: true, returnToService: true, wifi: 'free-wifi' }),
      step('free-back', 'dep-enroll', 'free-wifi', { depProxyUrl: '', profileUuid: '', sendDeviceConfigured: false }),
      step('free-wifi', 'add-wifi', 'free-name', { ssid: 'Ward WLAN', security: 'WPA2', hidden: false, autoJoin: true }),
      ...tail('free', 'free-checkin'),
    ] as never,
    { mdm: { apiKey: API_KEY, webhookSecret: WEBHOOK_KEY }, 'usb-wifi': { password: 'bench-wifi' }, 'free-wifi': { password: 'bench-wifi' } } as never,
  );
  const store = (helper.getNode('fleet') as unknown as { fleet: { store: FleetStore } }).fleet.store;
  const devices = Array.from({ length: phones }, () => new SimulatedDevice());
  for (const [i, phone] of devices.entries()) {
    await mdm.enrol(phone);
    usb.pair(phone.udid);
    cart.dock(phone, 0, i + 1);
  }
  while ((await store.devices()).filter((d) => d.docked).length < phones) await sleep(100);

  // A step that fails ends the bench with its reason.
  let failed: (err: Error) => void = () => undefined;
  for (const id of ['erase', 'enrol', 'back', 'wifi', 'name', 'language', 'checkin', 'black'].flatMap((s) => [`usb-${s}`, `free-${s}`]))
    (helper.getNode(id) as unknown as EventEmitter | null)?.on('call:error', (call: { args: unknown[] }) =>
      failed(new Error(`${id}: ${String(call.args[0])}`)),
    );
  /** One Prep of the phone at `port`, named by its hub and port as the example's button names it. */
  const prep = async (first: string, done: string, port: number): Promise<{ ms: number; requests: number }> => {
    const finished = new Promise<NodeMessage>((resolve, reject) => {
      helper.getNode(done).once('input', resolve);
      failed = reject;
      setTimeout(() => reject(new Error(`${first}: not done within 60 s`)), 60_000).unref();
    });
    const requests = mdm.requests.length;
    const started = performance.now();
    helper.getNode(first).receive({ device: { hub: 'Cart', port } } as NodeMessage);
    await finished;
    return { ms: performance.now() - started, requests: mdm.requests.length - requests };
  };
  const usbTimes: number[] = [];
  const freeTimes: number[] = [];
  let usbRequests = 0;
  let freeRequests = 0;
  for (let round = 0; round < rounds; round++) {
    for (let port = 1; port <= phones; port++) {
      // Each phone through both, in turn; which goes first alternates.
      const order = (round + port) % 2 === 0 ? (['usb', 'free'] as const) : (['free', 'usb'] as const);
      for (const kind of order) {
        const { ms, requests } = await prep(`${kind}-erase`, `${kind}-done`, port);
        (kind === 'usb' ? usbTimes : freeTimes).push(ms);
        if (kind === 'usb') usbRequests = requests;
        else freeRequests = requests;
      }
    }
  }
  await helper.unload();
  cart.stop();
  await usb.stop();
  await close();
  helper.settings({});
  return { phones, rounds, usb: median(usbTimes), handsFree: median(freeTimes), usbRequests, handsFreeRequests: freeRequests };
}

export function formatPrep(r: PrepResult): string {
  const floor = REENROL_MS;
  return (
    `${r.phones} phones x ${r.rounds} rounds, each through both Preps in turn (MDM ${MDM_LATENCY_MS} ms a request, the phone back ${REENROL_MS} ms after the erase): ` +
    `Device Prep (USB) median ${(r.usb / 1000).toFixed(2)} s (${r.usbRequests} MDM requests), Hands-free Prep median ${(r.handsFree / 1000).toFixed(2)} s (${r.handsFreeRequests}); ` +
    `hands-free/USB ${(r.handsFree / r.usb).toFixed(2)}; over the phone's own ${(floor / 1000).toFixed(2)} s: USB ${(r.usb / floor).toFixed(2)}x, hands-free ${(r.handsFree / floor).toFixed(2)}x ` +
    `(the simulated phone needs nobody at Setup Assistant after either erase; a real one after Device Prep's does)`
  );
}
