import { mkdirSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { join } from 'node:path';
import axios from 'axios';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import { createCanvas } from '@napi-rs/canvas';
import { packageNodes } from '../harness/node-red';
import { tempDir } from '../harness/support';
import { webhookHandler } from '../nodes/mdm-server/webhooks';
import * as commands from '../nodes/lib/mdm/commands';
import { WallpaperRenderer } from '../nodes/lib/wallpaper/wallpaper-renderer';
import { defaultOf } from '../nodes/shared/defaults';
import { ledPlan } from '../nodes/lib/hub/led-plan';
import { simulatedHub } from '../sim/hub-registry';
import { SimulatedNanoMdm, type SimulatedNanoMdmOptions } from '../sim/nanomdm-server';
import { SimulatedCart, locationOf } from '../sim/simulated-cart';
import { SimulatedDevice } from '../sim/simulated-device';
import { simulatedUsbmuxd } from '../sim/usbmuxd-server';
import { webhookReceiver } from '../sim/webhook-receiver';
import { startChildCart } from './pty-cart';
import { BENCH_SECRETS, startChildMdm, type BenchVendor, type ChildMdm } from './mdm-child';
import { median, ms, percentile } from './stats';

/** The screen set-wallpaper renders for unless told otherwise. */
const DEFAULT_SCREEN = { width: Number(defaultOf('set-wallpaper', 'width')), height: Number(defaultOf('set-wallpaper', 'height')) };

/** Signed webhooks, as a hospital runs NanoMDM. */
export const { apiKey: API_KEY, webhookSecret: WEBHOOK_KEY } = BENCH_SECRETS.nanomdm;
export const MDM_LATENCY_MS = 20;
export const MAX_CONCURRENT = 5;
export const LOCKER = 'org.example.locker';

/** A NanoMDM answering every request in 20 ms, phones acknowledging at once, webhooks into the nodes. */
export async function startMdm(options: Partial<SimulatedNanoMdmOptions> = {}): Promise<{ mdm: SimulatedNanoMdm; close(): Promise<void> }> {
  const mdm = new SimulatedNanoMdm({ apiKey: API_KEY, webhookSecret: WEBHOOK_KEY, checkinDelay: 0, ...options });
  mdm.latency = MDM_LATENCY_MS;
  await mdm.start();
  const receiver = await webhookReceiver((body, signature) => webhookHandler('/device-checkout/webhook')?.(body, signature) ?? 503);
  mdm.webhookUrl = receiver.url;
  return { mdm, close: async () => void (await Promise.all([mdm.stop(), receiver.close()])) };
}

/**
 * The tap benches' MDM (its phones acknowledging at once) and badge lookup in their own process,
 * as they are other machines; webhooks into the nodes here, where Node-RED's HTTP would take them.
 */
export async function startRemoteMdm(vendor: BenchVendor = 'nanomdm'): Promise<{ mdm: ChildMdm; close(): Promise<void> }> {
  const mdm = await startChildMdm({ vendor, latency: MDM_LATENCY_MS, badge: `${BADGE}=alice:Alice Example`, lockerApp: LOCKER });
  const receiver = await webhookReceiver((body, signature) => webhookHandler('/device-checkout/webhook')?.(body, signature) ?? 503);
  await mdm.setWebhook(receiver.url);
  return { mdm, close: async () => void (await Promise.all([mdm.stop(), receiver.close()])) };
}
/** The one badge the remote badge lookup knows. */
export const BADGE = '1001';

/** NanoMDM behind an `mdm-server` node; the one whose webhook path NanoMDM posts to unless told another (`id`, `webhookPath`). */
export const mdmServer = (mdm: { url: string }, id = 'mdm', webhookPath = 'device-checkout/webhook') => ({
  id,
  type: 'mdm-server',
  vendor: 'nanomdm',
  url: mdm.url,
  maxConcurrent: String(MAX_CONCURRENT),
  timeout: '30000',
  webhookPath,
});
/** The Return workflow of `fleet`, its node ids ending in `suffix`, passing on to `next`; without a wallpaper where the MDM sets none (Intune). */
export const returnWorkflow = (next: string, fleet = 'fleet', suffix = '', wallpaper = true) => [
  { id: `checkin${suffix}`, type: 'check-in-device', fleet, timeout: '60', wires: [[wallpaper ? `black-wallpaper${suffix}` : `passcode${suffix}`]] },
  ...(wallpaper
    ? [
        {
          id: `black-wallpaper${suffix}`,
          type: 'set-wallpaper',
          fleet,
          text: '',
          background: 'black',
          where: 'lock',
          timeout: '60',
          wires: [[`passcode${suffix}`]],
        },
      ]
    : []),
  { id: `passcode${suffix}`, type: 'clear-passcode', fleet, timeout: '60', wires: [[next]] },
];

/** Resolves with the next message that reaches helper node `id` and satisfies `match`. */
function nextAt(id: string, match: (msg: NodeMessage) => boolean = () => true): Promise<NodeMessage> {
  return new Promise((resolve) => {
    const node = helper.getNode(id);
    const listener = (msg: NodeMessage) => {
      if (!match(msg)) return;
      node.removeListener('input', listener);
      resolve(msg);
    };
    node.on('input', listener);
  });
}

export interface WallpaperResult {
  renders: number;
  median: number;
  p99: number;
  /** A black screen without text, through the same encoder: the floor. */
  blank: number;
  /** Skia's own PNG encoder on the same screen, for comparison. */
  skiaPng: number;
  cached: number;
}

/** Fresh renders (a new name each time, so no cache hits), beside the cost of the screen alone. */
export async function measureWallpaper(renders: number): Promise<WallpaperResult> {
  const renderer = new WallpaperRenderer(0);
  const time = async (work: () => Promise<unknown> | unknown): Promise<number> => {
    const started = performance.now();
    await work();
    return performance.now() - started;
  };
  const spec = (text: string) => ({ ...DEFAULT_SCREEN, background: { colour: '#000000' }, text });
  await renderer.render(spec('warm up: fonts registered'));
  const fresh: number[] = [];
  const blank: number[] = [];
  const skia: number[] = [];
  for (let i = 0; i < renders; i++) {
    fresh.push(await time(() => renderer.render(spec(`Checked Out to Nurse ${i} Ångström-Müller`))));
    blank.push(await time(() => renderer.render(spec(''))));
    skia.push(
      await time(() => {
        const canvas = createCanvas(DEFAULT_SCREEN.width, DEFAULT_SCREEN.height);
        const ctx = canvas.getContext('2d');
        ctx.fillStyle = '#000000';
        ctx.fillRect(0, 0, DEFAULT_SCREEN.width, DEFAULT_SCREEN.height);
        return canvas.toBuffer('image/png');
      }),
    );
  }
  const cachedRenderer = new WallpaperRenderer();
  await cachedRenderer.render(spec('Checked Out to alice'));
  const cached: number[] = [];
  for (let i = 0; i < renders; i++) cached.push(await time(() => cachedRenderer.render(spec('Checked Out to alice'))));
  return { renders, median: median(fresh), p99: percentile(fresh, 99), blank: median(blank), skiaPng: median(skia), cached: median(cached) };
}

export function formatWallpaper(r: WallpaperResult): string {
  return (
    `${r.renders} fresh 1179 x 2556 renders with text: median ${ms(r.median)} (target under 50 ms: ${r.median < 50 ? 'met' : 'MISSED'}), p99 ${ms(r.p99)}; ` +
    `a blank screen through the same encoder ${ms(r.blank)} (text costs ${(r.median / r.blank).toFixed(2)}x the floor); skia's own PNG encoder on the blank screen ${ms(r.skiaPng)}; a cached render ${r.cached.toFixed(3)} ms`
  );
}

export interface BadgeToReadyResult {
  samples: number;
  p50: number;
  p99: number;
  /** One enqueue + acknowledgement with a bare axios client, median: check-out needs two. */
  roundTrip: number;
  /** One badge lookup with a bare axios client, median. */
  lookup: number;
  /** A bare client's lookup and two round trips in a row, one after the other: median and p99. */
  bare: { p50: number; p99: number };
  /** The LED commands of a check-out (green, then flashing white) on the wire at 115200 baud: echo and prompt. */
  ledWire: number;
  /** The slowest 1% of taps and the rest: their median longest event-loop stall and GC time, ms. */
  tail: { loopMax: number; gc: number };
  rest: { loopMax: number; gc: number };
}

/** A check-out's LED commands (green, then flashing white) on the wire at 115200 baud, with their echoes and prompts, ms. */
export const checkoutLedWire = (): number =>
  (['granted', 'ready'] as const).flatMap((state) => ledPlan('universal', 1, state).commands).reduce((sum, line) => sum + wireMs(line), 0);

/** What the hub sends back for a command with no reply lines: its echo, then `\r\n>> `, 10 bits a byte. */
const wireMs = (line: string, baud = 115200): number => ((line.length + 5) * 10 * 1000) / baud;

/**
 * `samples` badge taps, each to flashing white (ms), on a cart with one phone (hub in its own
 * process, usbmuxd, the given MDM and badge lookup); each check-out is returned before the
 * next. `fleet` adds to the device-fleet's config (a store, say); `phase` hears where each one is.
 */
/** What held one tap up besides the work itself: the event loop's longest stall and garbage collection during it. */
export interface TapProbe {
  ms: number;
  /** The longest the event loop was blocked during the tap, ms. */
  loopMax: number;
  /** Garbage collection pauses during the tap, ms in all. */
  gc: number;
}

/** How a tap reaches the cart when it is not a badge message into the check-out node: a reader, a sign-in. */
export interface TapSource {
  /** More nodes (a reader wired to `checkout`); `credentials` by node id. */
  nodes?: object[];
  credentials?: Record<string, object>;
  /** Once the flow runs (a reader to open, a screen to follow). */
  started?(): Promise<void>;
  /** Before each tap, not timed (a reader's repeat window to let pass). */
  before?(): Promise<void>;
  /** Makes the tap; what it resolves with is awaited too (a screen showing it) before the next. */
  tap(): Promise<unknown>;
}

export async function tapsToReady(
  samples: number,
  mdm: ChildMdm,
  fleet: Record<string, unknown> = {},
  phase: (name: Phase) => void = () => undefined,
  probes?: TapProbe[],
  source?: TapSource,
): Promise<number[]> {
  helper.init(require.resolve('node-red'));
  helper.settings({ userDir: tempDir('bench-userdir') });
  // The hub in its own process, as a real one is its own machine: its replies never wait on Node-RED's event loop.
  const hubs = await startChildCart(tempDir('bench-hub'), 1, 8, 'empty');
  const usb = await simulatedUsbmuxd(`bench-badge-${++benchCarts}`);
  await helper.load(
    packageNodes,
    [
      { id: 'hub', type: 'smart-hub', name: 'Cart', serialPort: hubs.paths[0], baudRate: '115200', pollInterval: '250', model: 'auto' },
      { ...mdmServer(mdm), ...mdm.server },
      {
        id: 'fleet',
        type: 'device-fleet',
        mdm: 'mdm',
        usb: `sim:bench-badge-${benchCarts}`,
        usbWindow: '1',
        lockerApp: LOCKER,
        checkoutDeadline: '600',
        userLimit: '1',
        batteryThreshold: '20',
        badgeLookupUrl: mdm.badgeUrl,
        ...fleet,
      },
      { id: 'in', type: 'hub-input', hub: 'hub', fleet: 'fleet', wires: [['checkin'], []] },
      ...returnWorkflow('returned', 'fleet', '', mdm.vendor !== 'intune'),
      { id: 'checkout', type: 'check-out-device', fleet: 'fleet', suppressBlueLed: true, timeout: '60', wires: [['handed']] },
      { id: 'returned', type: 'helper' },
      { id: 'handed', type: 'helper' },
      ...(source?.nodes ?? []),
    ] as never,
    { mdm: mdm.credentials, ...source?.credentials } as never,
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  await source?.started?.();
  const phone = await mdm.enrol();
  const docked = nextAt('returned');
  phase('dock');
  hubs.dock(0, 1);
  usb.attach(phone, locationOf(0, 1));
  await docked;
  phase('returned');

  const tapToReady: number[] = [];
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const pauses: { start: number; duration: number }[] = [];
  const gcWatch = new PerformanceObserver((list) => pauses.push(...list.getEntries().map(({ startTime, duration }) => ({ start: startTime, duration }))));
  if (probes) {
    loop.enable();
    gcWatch.observe({ entryTypes: ['gc'] });
  }
  // The test helper's spies keep every call of every node (statuses, sends, logs): a real Node-RED
  // keeps none, and a run of hundreds of taps would otherwise measure the spies' garbage collection.
  const spies = (helper as unknown as { _sandbox: { resetHistory(): void } })._sandbox;
  for (let i = 0; i < samples; i++) {
    spies.resetHistory();
    await source?.before?.();
    const handed = nextAt('handed');
    phase('tap');
    loop.reset();
    const started = performance.now();
    const alsoSeen = source ? source.tap() : (helper.getNode('checkout') as Node).receive({ badge: BADGE } as NodeMessage);
    const msg = await handed;
    const ended = performance.now();
    await alsoSeen;
    tapToReady.push(ended - started);
    const gc = pauses.filter((p) => p.start >= started && p.start < ended).reduce((sum, p) => sum + p.duration, 0);
    probes?.push({ ms: ended - started, loopMax: loop.max / 1e6, gc });
    phase('ready');
    const back = nextAt('returned');
    (helper.getNode('checkin') as Node).receive({ device: (msg as { device: object }).device } as NodeMessage);
    await back;
    phase('returned');
  }
  loop.disable();
  gcWatch.disconnect();
  await helper.unload();
  await Promise.all([hubs.stop(), usb.stop()]);
  helper.settings({});
  return tapToReady;
}
let benchCarts = 0;
/** Where a cart of `tapsToReady` is: a phone docking, a tap, flashing white, the phone returned. */
export type Phase = 'dock' | 'tap' | 'ready' | 'returned';

/**
 * What the check-out asks of the MDM and the badge lookup, by a bare client in the same run:
 * one enqueue and its acknowledgement on a webhook, one lookup, and both in a row as a tap needs
 * them (a lookup and two round trips), `samples` times each. `identify` asks instead of the
 * badge lookup (a sign-in's questions to the directory, say).
 */
export async function bareClient(
  mdm: ChildMdm,
  samples: number,
  identify?: () => Promise<unknown>,
): Promise<{ roundTrips: number[]; lookups: number[]; bare: number[] }> {
  const acked = new Map<string, () => void>();
  const receiver = await webhookReceiver((body) => {
    const ack = (JSON.parse(body.toString()) as { acknowledge_event?: { command_uuid?: string } }).acknowledge_event;
    if (ack?.command_uuid) acked.get(ack.command_uuid)?.();
    return 200;
  });
  await mdm.setWebhook(receiver.url);
  const rawPhone = await mdm.enrol();
  const timed = async (work: () => Promise<unknown>, into: number[]) => {
    const started = performance.now();
    await work();
    into.push(performance.now() - started);
  };
  const roundTrip = async () => {
    const command = commands.settings(commands.applicationConfiguration(LOCKER, { CheckoutStatus: 'Checked Out', UserId: 'alice' }));
    const done = new Promise<void>((resolve) => acked.set(command.CommandUUID, resolve));
    await axios.put(`${mdm.url}/v1/enqueue/${rawPhone}`, commands.toPlist(command), {
      auth: { username: 'nanomdm', password: API_KEY },
      headers: { 'content-type': 'application/xml' },
    });
    await done;
  };
  const lookup = identify ?? (() => axios.get(mdm.badgeUrl, { params: { id: BADGE } }));
  const roundTrips: number[] = [];
  const lookups: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < samples; i++) {
    await timed(roundTrip, roundTrips);
    await timed(lookup, lookups);
    await timed(async () => {
      await lookup();
      await roundTrip();
      await roundTrip();
    }, bare);
  }
  await receiver.close();
  return { roundTrips, lookups, bare };
}

/**
 * Badge tap to flashing white LED on a cart (hub over a pty, usbmuxd, NanoMDM answering in
 * 20 ms, phones acknowledging at once, the badge lookup on loopback), beside the MDM round
 * trips the check-out needs, measured with a bare client in the same run.
 */
export async function measureBadgeToReady(samples: number): Promise<BadgeToReadyResult> {
  const { mdm, close } = await startRemoteMdm();
  const probes: TapProbe[] = [];
  const tapToReady = await tapsToReady(samples, mdm, {}, undefined, probes);
  const bySpeed = [...probes].sort((a, b) => a.ms - b.ms);
  const slowest = bySpeed.slice(Math.floor(bySpeed.length * 0.99));
  const others = bySpeed.slice(0, Math.floor(bySpeed.length * 0.99));
  const held = (taps: TapProbe[]) => ({ loopMax: median(taps.map((t) => t.loopMax)), gc: median(taps.map((t) => t.gc)) });

  const { roundTrips, lookups, bare } = await bareClient(mdm, samples);
  await close();
  const ledWire = checkoutLedWire();
  return {
    samples,
    p50: median(tapToReady),
    p99: percentile(tapToReady, 99),
    roundTrip: median(roundTrips),
    lookup: median(lookups),
    bare: { p50: median(bare), p99: percentile(bare, 99) },
    ledWire,
    tail: held(slowest),
    rest: held(others),
  };
}

export function formatBadgeToReady(r: BadgeToReadyResult): string {
  const floor = 2 * r.roundTrip + r.lookup + r.ledWire;
  const tailFloor = r.bare.p99 + r.ledWire;
  return (
    `badge tap to flashing white, ${r.samples} check-outs, MDM answering in ${MDM_LATENCY_MS} ms: p50 ${ms(r.p50)}, p99 ${ms(r.p99)}; ` +
    `floor ${ms(floor)} = two MDM round trips, bare client, 2 x ${ms(r.roundTrip)} + badge lookup ${ms(r.lookup)} + six LED commands on the wire ${ms(r.ledWire)}; ` +
    `p50/floor ${(r.p50 / floor).toFixed(2)}, p99/floor ${(r.p99 / floor).toFixed(2)} (target at most 1.2); ` +
    `the same lookup and round trips by a bare client, p99 ${ms(r.bare.p99)} (p50 ${ms(r.bare.p50)}): p99/(its p99 + LED wire) ${(r.p99 / tailFloor).toFixed(2)}; ` +
    `during the slowest 1% of taps the event loop stalled at most ${ms(r.tail.loopMax)} and GC took ${ms(r.tail.gc)} (medians; other taps ${ms(r.rest.loopMax)} and ${ms(r.rest.gc)})`
  );
}

export interface ShiftChangeResult {
  phones: number;
  /** From the first dock until every phone is Checked In, and until every Return workflow finished, s. */
  checkedIn: number;
  returned: number;
  /** The earliest all could be done: the last dock plus one phone's chain, or the MDM's throughput bound, s. */
  bound: number;
  requestsPerPhone: number;
}

/**
 * A shift change: `phones` phones docked within 10 s across 16-port hubs, each running the
 * Return workflow (Check In, black wallpaper, Clear Passcode) through a NanoMDM that takes
 * 20 ms per request and at most 5 at once.
 */
export async function measureShiftChange(phones: number): Promise<ShiftChangeResult> {
  helper.init(require.resolve('node-red'));
  const userDir = tempDir('bench-userdir');
  helper.settings({ userDir });
  const { mdm, close } = await startMdm();
  const hubCount = Math.ceil(phones / 16);
  const hubs = Array.from({ length: hubCount }, (_, i) => simulatedHub(`shift-${process.pid}-${i}`, { ports: 16 }));
  const usb = await simulatedUsbmuxd('bench-shift');
  const cart = new SimulatedCart(hubs, usb, 100);
  // Ports learnt on an earlier day: simultaneous docks are identified at once.
  const locations = Object.fromEntries(hubs.flatMap((_, h) => Array.from({ length: 16 }, (__, p) => [`hub${h}#${p + 1}`, locationOf(h, p + 1)])));
  mkdirSync(join(userDir, 'device-checkout'), { recursive: true });
  writeFileSync(join(userDir, 'device-checkout', 'usb-locations-fleet.json'), JSON.stringify(locations));
  await helper.load(
    packageNodes,
    [
      ...hubs.map((_, h) => ({
        id: `hub${h}`,
        type: 'smart-hub',
        name: `Hub ${h}`,
        serialPort: `sim:shift-${process.pid}-${h}`,
        baudRate: '115200',
        pollInterval: '1000',
        model: 'auto',
      })),
      ...hubs.map((_, h) => ({ id: `in${h}`, type: 'hub-input', hub: `hub${h}`, fleet: 'fleet', wires: [['checkin'], []] })),
      mdmServer(mdm),
      {
        id: 'fleet',
        type: 'device-fleet',
        mdm: 'mdm',
        usb: 'sim:bench-shift',
        usbWindow: '2',
        lockerApp: LOCKER,
        checkoutDeadline: '60',
        userLimit: '1',
        batteryThreshold: '20',
      },
      ...returnWorkflow('returned'),
      { id: 'returned', type: 'helper' },
    ] as never,
    { mdm: { apiKey: API_KEY, webhookSecret: WEBHOOK_KEY } } as never,
  );
  const devices = Array.from({ length: phones }, () => new SimulatedDevice());
  for (const phone of devices) await mdm.enrol(phone);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const store = (helper.getNode('fleet') as unknown as { fleet: { store: import('../nodes/lib/fleet/fleet-store').FleetStore } }).fleet.store;

  let returned = 0;
  let allReturned = 0;
  let allCheckedIn = 0;
  const started = performance.now();
  const finished = new Promise<void>((resolve) =>
    helper.getNode('returned').on('input', async () => {
      const checkedIn = new Set((await store.devices()).filter((d) => d.status === 'Checked In').map((d) => d.udid));
      if (!allCheckedIn && devices.every((d) => checkedIn.has(d.udid))) allCheckedIn = performance.now() - started;
      if (++returned === phones) {
        allReturned = performance.now() - started;
        resolve();
      }
    }),
  );
  const spread = 10_000;
  devices.forEach((phone, i) => setTimeout(() => cart.dock(phone, Math.floor(i / 16), (i % 16) + 1), (i * spread) / phones));
  await finished;
  await helper.unload();
  cart.stop();
  await usb.stop();
  await close();
  helper.settings({});

  const requestsPerPhone = 5; // app lock, app configuration, battery, wallpaper, clear passcode
  const lastDock = ((phones - 1) * spread) / phones;
  const bound = Math.max(lastDock + requestsPerPhone * MDM_LATENCY_MS, (phones * requestsPerPhone * MDM_LATENCY_MS) / MAX_CONCURRENT) / 1000;
  return { phones, checkedIn: (allCheckedIn || allReturned) / 1000, returned: allReturned / 1000, bound, requestsPerPhone };
}

export function formatShiftChange(r: ShiftChangeResult): string {
  return (
    `shift change: ${r.phones} phones docked within 10 s, Return workflow each (${r.requestsPerPhone} MDM requests, ${MDM_LATENCY_MS} ms each, ${MAX_CONCURRENT} at once): ` +
    `all Checked In after ${r.checkedIn.toFixed(2)} s, all Return workflows done after ${r.returned.toFixed(2)} s; the bound (last dock + one phone's requests, or the MDM's throughput) ${r.bound.toFixed(2)} s ` +
    `(${(r.returned / r.bound).toFixed(2)}x; the hubs are polled every 1 s)`
  );
}
