import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import { packageNodes } from '../harness/node-red';
import { tempDir } from '../harness/support';
import { createDatabase, startPostgres } from '../harness/postgres';
import { simulatedHub } from '../sim/hub-registry';
import type { SimulatedNanoMdm } from '../sim/nanomdm-server';
import { SimulatedCart, locationOf } from '../sim/simulated-cart';
import { SimulatedDevice } from '../sim/simulated-device';
import { simulatedUsbmuxd, type SimulatedUsbmuxd } from '../sim/usbmuxd-server';
import { API_KEY, LOCKER, MAX_CONCURRENT, MDM_LATENCY_MS, mdmServer, returnWorkflow, startMdm, WEBHOOK_KEY } from './checkout';
import { median, ms, percentile, sleep } from './stats';

/** One simulated cart of a ward: its hubs, usbmuxd and the phones docked on it. */
interface WardCart {
  index: number;
  cart: SimulatedCart;
  usb: SimulatedUsbmuxd;
  phones: SimulatedDevice[];
}

export interface Ward {
  carts: WardCart[];
  stop(): Promise<void>;
}

let wards = 0;

/**
 * `carts` carts in one Node-RED, each its own `device-fleet` on one PostgreSQL fleet (each its
 * own cart name, hubs and usbmuxd, as separate hosts would have), one NanoMDM for all. Each cart
 * has the Return workflow on its docks and a check-out node (`checkout<c>` -> `handed`; their
 * refusals caught to `refused`); every Return ends at `returned`.
 */
export async function startWard(
  mdm: { url: string },
  databaseUrl: string,
  carts: number,
  hubsPerCart: number,
  ports: number,
  {
    pollInterval = 250,
    wallpaper = true,
    mdmPerCart = false,
    first = 0,
  }: {
    pollInterval?: number;
    wallpaper?: boolean;
    mdmPerCart?: boolean;
    /** The first cart's number, where carts are spread over processes. */ first?: number;
  } = {},
): Promise<Ward> {
  const ward = ++wards;
  helper.init(require.resolve('node-red'));
  const userDir = tempDir('bench-ward');
  helper.settings({ userDir });
  mkdirSync(join(userDir, 'device-checkout'), { recursive: true });
  const name = (c: number, h: number) => `ward-${process.pid}-${ward}-${c}-${h}`;
  const built: WardCart[] = [];
  const numbers = Array.from({ length: carts }, (_, i) => first + i);
  const flows: object[] = [
    { id: 'returned', type: 'helper' },
    { id: 'handed', type: 'helper' },
    { id: 'refused', type: 'helper' },
  ];
  // As carts on hosts of their own: each its MDM connection; NanoMDM posts to cart 0's, which relays to the others.
  const mdmOf = (c: number): string => (mdmPerCart && c > 0 ? `mdm${c}` : 'mdm');
  for (const id of new Set(numbers.map(mdmOf))) flows.push(id === 'mdm' ? mdmServer(mdm) : mdmServer(mdm, id, `device-checkout/webhook-${id.slice(3)}`));
  for (const c of numbers) {
    const hubs = Array.from({ length: hubsPerCart }, (_, h) => simulatedHub(name(c, h), { ports }));
    const usb = await simulatedUsbmuxd(`ward-${ward}-${c}`);
    built.push({ index: c, cart: new SimulatedCart(hubs, usb, 100), usb, phones: [] });
    // Ports learnt on an earlier day: docks at the same moment are told apart at once.
    const locations = Object.fromEntries(hubs.flatMap((_, h) => Array.from({ length: ports }, (__, p) => [`hub${c}-${h}#${p + 1}`, locationOf(h, p + 1)])));
    writeFileSync(join(userDir, 'device-checkout', `usb-locations-fleet${c}.json`), JSON.stringify(locations));
    const fleet = `fleet${c}`;
    flows.push(
      {
        id: fleet,
        type: 'device-fleet',
        mdm: mdmOf(c),
        usb: `sim:ward-${ward}-${c}`,
        usbWindow: '2',
        lockerApp: LOCKER,
        checkoutDeadline: '60',
        userLimit: '1',
        batteryThreshold: '20',
        store: 'postgres',
        databaseUrl,
        cart: `cart-${c}`,
      },
      ...hubs.flatMap((_, h) => [
        {
          id: `hub${c}-${h}`,
          type: 'smart-hub',
          name: `Cart ${c} hub ${h}`,
          serialPort: `sim:${name(c, h)}`,
          baudRate: '115200',
          pollInterval: String(pollInterval),
          model: 'auto',
        },
        { id: `in${c}-${h}`, type: 'hub-input', hub: `hub${c}-${h}`, fleet, wires: [[`checkin${c}`], []] },
      ]),
      ...returnWorkflow('returned', fleet, String(c), wallpaper),
      { id: `checkout${c}`, type: 'check-out-device', fleet, suppressBlueLed: true, timeout: '60', wires: [['handed']] },
    );
  }
  flows.push({ id: 'refusals', type: 'catch', scope: built.map((c) => `checkout${c.index}`), uncaught: false, wires: [['refused']] });
  const secrets = { apiKey: API_KEY, webhookSecret: WEBHOOK_KEY };
  await helper.load(packageNodes, flows as never, Object.fromEntries(numbers.map((c) => [mdmOf(c), secrets])) as never);
  await sleep(1000);
  return {
    carts: built,
    async stop() {
      await helper.unload();
      for (const { cart, usb } of built) {
        cart.stop();
        await usb.stop();
      }
      helper.settings({});
    },
  };
}

/** Docks `perCart` new enrolled phones on each cart, spread over `spreadMs`, and waits for every Return; resolves with the time until the last. */
export async function dockPhones(ward: Ward, mdm: SimulatedNanoMdm, perCart: number, ports: number, spreadMs: number): Promise<number> {
  const all = ward.carts.flatMap((cart) => Array.from({ length: perCart }, (_, i) => ({ cart, phone: new SimulatedDevice({ batteryLevel: 0.9 }), slot: i })));
  await enrolAll(mdm, all);
  return spreadDocks(
    all.length,
    spreadMs,
    Infinity,
    (i) => {
      const { cart, phone, slot } = all[i];
      cart.phones.push(phone);
      cart.cart.dock(phone, Math.floor(slot / ports), (slot % ports) + 1);
    },
    (listener) => {
      helper.getNode('returned').on('input', listener);
      return () => helper.getNode('returned').removeListener('input', listener);
    },
  );
}

/** Enrols the phones 50 at a time: a hospital's thousands of phones are set up in minutes, not hours. */
export async function enrolAll(mdm: SimulatedNanoMdm, all: { phone: SimulatedDevice }[]): Promise<void> {
  for (let i = 0; i < all.length; i += 50) await Promise.all(all.slice(i, i + 50).map(({ phone }) => mdm.enrol(phone)));
  await sleep(1500);
}

/**
 * Calls `dockOne` for phones 0 to `count - 1`, spread over `spreadMs`, and waits for `count`
 * Returns (`returns` calls its listener at each, and gives back how to stop); with `settleMs`,
 * for those that come: none for that long after the last dock ends the wait (a Return that
 * failed never arrives). Resolves with the time until the last Return.
 */
export async function spreadDocks(
  count: number,
  spreadMs: number,
  settleMs: number,
  dockOne: (i: number) => void,
  returns: (listener: () => void) => () => void,
): Promise<number> {
  let returned = 0;
  let lastReturn = performance.now();
  const stop = returns(() => {
    returned++;
    lastReturn = performance.now();
  });
  const started = performance.now();
  for (let i = 0; i < count; i++) setTimeout(() => dockOne(i), (i * spreadMs) / count);
  await sleep(spreadMs);
  while (returned < count && performance.now() - lastReturn < settleMs) await sleep(100);
  stop();
  return lastReturn - started;
}

/** What became of one badge tap: served (flashing white after `elapsed` ms) or refused with `code`. */
export interface TapOutcome {
  started: number;
  answered: number;
  elapsed?: number;
  code?: string;
  /** The phones of the tapped cart docked again and not yet returned as the tap began (its Returns running). */
  returning?: number;
  /** The cart tapped, of a schedule's taps at random carts. */
  cart?: number;
}

/** Taps at one idle cart, and at random carts and instants, through `tapAt`. */
export interface TapSchedule {
  /** 30 taps at `cart` with the others idle, 1.5 s apart (each phone is taken within a second): tap to flashing white, ms. */
  idle(cart: number): Promise<number[]>;
  /** `count` taps at random carts (of `carts`) and random instants within `spanMs`. */
  within(count: number, spanMs: number): Promise<TapOutcome[]>;
}

export function tapSchedule(tapAt: (cart: number) => Promise<TapOutcome>, carts: number): TapSchedule {
  return {
    async idle(cart) {
      const served: number[] = [];
      for (let i = 0; i < 30; i++) {
        const { elapsed } = await tapAt(cart);
        if (elapsed !== undefined) served.push(elapsed);
        await sleep(1500);
      }
      return served;
    },
    within: (count, spanMs) =>
      Promise.all(
        Array.from({ length: count }, async () => {
          await sleep(Math.random() * spanMs);
          const cart = Math.floor(Math.random() * carts);
          return { ...(await tapAt(cart)), cart };
        }),
      ),
  };
}

/**
 * Badge taps at a ward's carts (each a new person): each phone handed out is taken within a
 * second and docked again 1 to 3 s later (its Return runs); a phone handed out while it is out
 * with someone else is counted. Each tap's person is `<people>-<n>`: processes of carts of one
 * fleet name theirs apart.
 */
export function tapDriver(
  ward: Ward,
  people = 'nurse',
): TapSchedule & {
  tapAt(cart: number): Promise<TapOutcome>;
  refused: Record<string, number>;
  doubles(): number;
} {
  const out = new Set<string>();
  /** Per cart, the phones docked again whose Return has not ended. */
  const returning = new Map<number, Set<string>>();
  const returningAt = (cart: number): Set<string> => returning.get(cart) ?? returning.set(cart, new Set()).get(cart)!;
  helper.getNode('returned').on('input', (raw: NodeMessage) => {
    const udid = (raw as NodeMessage & { device?: { udid: string } }).device?.udid;
    for (const phones of returning.values()) if (udid) phones.delete(udid);
  });
  let doubles = 0;
  const refused: Record<string, number> = {};
  const pending = new Map<number, { started: number; returning: number; resolve(outcome: TapOutcome): void }>();
  const answer = (id: number, code?: string): void => {
    const tap = pending.get(id)!;
    pending.delete(id);
    const answered = performance.now();
    tap.resolve({ started: tap.started, answered, returning: tap.returning, ...(code ? { code } : { elapsed: answered - tap.started }) });
  };
  helper.getNode('handed').on('input', (raw: NodeMessage) => {
    const msg = raw as NodeMessage & { tap: number; device: { udid: string } };
    if (!pending.has(msg.tap)) return;
    const udid = msg.device.udid;
    if (out.has(udid)) doubles++;
    out.add(udid);
    const cart = ward.carts.find((c) => c.phones.some((p) => p.udid === udid))!;
    const at = cart.cart.whereIs(udid);
    // She takes it within a second, and brings it back a little later.
    setTimeout(() => {
      if (at) cart.cart.unplug(at.hub, at.port);
      setTimeout(
        () => {
          out.delete(udid);
          returningAt(cart.index).add(udid);
          if (at) cart.cart.dock(udid, at.hub, at.port);
        },
        1000 + Math.random() * 2000,
      );
    }, Math.random() * 1000);
    answer(msg.tap);
  });
  helper.getNode('refused').on('input', (raw: NodeMessage) => {
    const msg = raw as NodeMessage & { tap: number; error: { code?: string } };
    if (!pending.has(msg.tap)) return;
    const code = msg.error.code ?? '?';
    refused[code] = (refused[code] ?? 0) + 1;
    answer(msg.tap, code);
  });
  let tapped = 0;
  const tapAt = (cart: number): Promise<TapOutcome> =>
    new Promise((resolve) => {
      const tap = ++tapped;
      pending.set(tap, { started: performance.now(), returning: returningAt(cart).size, resolve });
      (helper.getNode(`checkout${cart}`) as Node).receive({ user: `${people}-${tap}`, tap } as NodeMessage);
    });
  return {
    tapAt,
    ...tapSchedule(tapAt, ward.carts.length),
    refused,
    doubles: () => doubles,
  };
}

export interface WardCheckoutResult {
  carts: number;
  phones: number;
  checkouts: number;
  /** Taps refused because the cart had a phone waiting or none left: not check-outs. */
  refused: Record<string, number>;
  /** A phone handed out while it was out with someone else: must be 0. */
  doubles: number;
  idle: { p50: number; p99: number };
  load: { p50: number; p99: number };
}

/**
 * `carts` carts on one PostgreSQL fleet with `perCart` phones each: badge taps (each a new
 * person) at random carts and random instants within `windowMs`; each phone is taken within
 * a second of flashing white and docked again 1 to 3 s later (its Return runs). Tap to
 * flashing white under that load, beside the same on one idle cart of the same ward.
 */
export async function measureWardCheckouts(carts: number, perCart: number, tapCount: number, windowMs: number): Promise<WardCheckoutResult> {
  const postgres = await startPostgres();
  const { mdm, close } = await startMdm();
  const ward = await startWard(mdm, await createDatabase(postgres, 'ward'), carts, 1, 8);
  try {
    await dockPhones(ward, mdm, perCart, 8, 2000);
    const taps = tapDriver(ward);
    // One cart of the ward at work, the others idle; then the ward at work.
    const idle = await taps.idle(0);
    const loaded = await taps.within(tapCount, windowMs);
    const load = loaded.flatMap(({ elapsed }) => (elapsed === undefined ? [] : [elapsed]));
    await sleep(5000);
    return {
      carts,
      phones: carts * perCart,
      checkouts: load.length,
      refused: taps.refused,
      doubles: taps.doubles(),
      idle: { p50: median(idle), p99: percentile(idle, 99) },
      load: { p50: median(load), p99: percentile(load, 99) },
    };
  } finally {
    await ward.stop();
    await close();
    await postgres.stop();
  }
}

/** Refused taps by code, in words. */
export const refusalCounts = (byCode: Record<string, number>): string =>
  Object.entries(byCode)
    .map(([code, n]) => `${n} ${code}`)
    .join(', ') || 'none';

export function formatWardCheckouts(r: WardCheckoutResult): string {
  return (
    `${r.carts} carts, ${r.phones} phones, one database: ${r.checkouts} check-outs at random instants (refused taps: ${refusalCounts(r.refused)}); a phone handed out twice: ${r.doubles}; ` +
    `tap to flashing white p50 ${ms(r.load.p50)}, p99 ${ms(r.load.p99)}, against one idle cart of the same ward p50 ${ms(r.idle.p50)}, p99 ${ms(r.idle.p99)}: ` +
    `p99 ${(r.load.p99 / r.idle.p99).toFixed(2)}x (target at most 1.5)`
  );
}

export interface WardShiftChangeResult {
  carts: number;
  phones: number;
  checkedIn: number;
  bound: number;
}

/** A shift change on a shared fleet: `phones` phones docked over `carts` carts within 10 s, each through the Return workflow. */
export async function measureWardShiftChange(carts: number, phones: number): Promise<WardShiftChangeResult> {
  const postgres = await startPostgres();
  const { mdm, close } = await startMdm();
  const perCart = phones / carts;
  const ports = 10;
  const ward = await startWard(mdm, await createDatabase(postgres, 'shift'), carts, Math.ceil(perCart / ports), ports);
  try {
    const spread = 10_000;
    const took = await dockPhones(ward, mdm, perCart, ports, spread);
    const requestsPerPhone = 5; // app lock, app configuration, battery, wallpaper, clear passcode
    const lastDock = ((phones - 1) * spread) / phones;
    const bound = Math.max(lastDock + requestsPerPhone * MDM_LATENCY_MS, (phones * requestsPerPhone * MDM_LATENCY_MS) / MAX_CONCURRENT);
    return { carts, phones, checkedIn: took / 1000, bound: bound / 1000 };
  } finally {
    await ward.stop();
    await close();
    await postgres.stop();
  }
}

export function formatWardShiftChange(r: WardShiftChangeResult): string {
  return `shift change on a shared fleet: ${r.phones} phones docked over ${r.carts} carts within 10 s, Return workflow each: all returned after ${r.checkedIn.toFixed(2)} s; the bound (last dock + one phone's requests, or the MDM's throughput) ${r.bound.toFixed(2)} s (${(r.checkedIn / r.bound).toFixed(2)}x, target at most 1.15)`;
}
