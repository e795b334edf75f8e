import { cpus, loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDatabase, startPostgres, startStandby, superuserQuery } from '../harness/postgres';
import { tempDir } from '../harness/support';
import { SimulatedNanoMdm } from '../sim/nanomdm-server';
import { SimulatedDevice } from '../sim/simulated-device';
import { API_KEY, MDM_LATENCY_MS, WEBHOOK_KEY } from './checkout';
import { startCartProcess, wallClock, type CartProcess } from './hospital-child';
import { NativeAddress } from './native-address';
import { startProfile } from './profile';
import { median, ms, percentile, sleep } from './stats';
import { enrolAll, refusalCounts, spreadDocks, tapSchedule, type TapOutcome, type WardCheckoutResult } from './ward';

/** The ward bench's figures at a hospital's scale, with the connections used and a failover. */
export interface HospitalResult extends WardCheckoutResult {
  /** The Node-RED processes the carts were spread over. */
  processes: number;
  /** The phones by status once the dock storm settled (a Return refused STORE_BUSY leaves its phone Failed). */
  docked: Record<string, number>;
  maxConnections: number;
  /** The carts' connections to the database (pools and listening), the most at once during the taps. */
  peakConnections: number;
  /** The taps served during the load by whether their cart was running a Return as they began: how many, p99 ms. */
  byReturns: { quiet: { taps: number; p99: number }; returning: { taps: number; p99: number } };
  /** The machine's 1-minute load average during the taps (median of a reading a second), and its cores. */
  loadAverage: number;
  cores: number;
  failover: {
    taps: number;
    /** The standby's own promotion (pg_promote, waiting until it takes writes), from the primary's death. */
    promotion: number;
    /** From the primary's death to the first tap begun after it that was served. */
    firstServed: number;
    /** Taps refused between the primary's death and that first served tap, by code. */
    refused: Record<string, number>;
    /** Taps begun after that first served tap, how many of them were served, and the others' codes. */
    after: { taps: number; served: number; refused: Record<string, number> };
  };
}

/** Hubs of 10 ports; read each second. */
const PORTS = 10;

/**
 * A hospital on one PostgreSQL: `carts` carts (each its own device-fleet, MDM connection, hubs
 * and usbmuxd) spread over `processes` Node-RED processes (a hospital runs a host per cart), with
 * `perCart` phones each, NanoMDM here posting to the first cart, which relays; the database a
 * primary with a streaming standby behind an address that moves (socat). Badge taps (a new person each)
 * at random carts and instants within `windowMs`, each phone taken within a second and docked
 * again 1 to 3 s later; tap to flashing white against one idle cart of the same hospital first.
 * Then the same rate of taps for `failoverMs` with the primary killed 10 s in: the address moved
 * and the standby promoted at once (as a manager that has decided), the first tap served
 * afterwards timed from the death.
 */
export async function measureHospital(
  carts: number,
  perCart: number,
  tapCount: number,
  windowMs: number,
  failoverMs: number,
  processes: number,
): Promise<HospitalResult> {
  // Three connections per cart (a pool of 2, one listening), and room for the admins.
  const maxConnections = carts * 3 + 20;
  const settings = { max_connections: maxConnections };
  const primary = await startPostgres(settings);
  const databaseUrl = await createDatabase(primary, 'hospital');
  const standby = await startStandby(primary, settings);
  const address = await NativeAddress.start(primary.port);
  const mdm = new SimulatedNanoMdm({ apiKey: API_KEY, webhookSecret: WEBHOOK_KEY, checkinDelay: 0 });
  mdm.latency = MDM_LATENCY_MS;
  await mdm.start();
  const logs = tempDir('bench-hospital');
  const perProcess = Math.ceil(carts / processes);
  const children = await Promise.all(
    Array.from({ length: Math.ceil(carts / perProcess) }, (_, k) =>
      startCartProcess({
        mdmUrl: mdm.url,
        databaseUrl: databaseUrl.replace(/:\d+\//, `:${address.port}/`),
        first: k * perProcess,
        carts: Math.min(perProcess, carts - k * perProcess),
        hubsPerCart: Math.ceil(perCart / PORTS),
        ports: PORTS,
        log: join(logs, `carts-${k}.log`),
      }),
    ),
  );
  mdm.webhookUrl = children[0].webhook!;
  const processOf = (cart: number): CartProcess => children[Math.floor(cart / perProcess)];
  // What it is doing, on stderr: setting up thousands of phones takes minutes.
  const started = performance.now();
  const phase = (what: string): void => void process.stderr.write(`  [${((performance.now() - started) / 1000).toFixed(0)} s] ${what}\n`);
  try {
    phase(`${carts} carts started in ${children.length} processes (logs in ${logs}); enrolling and docking the phones`);
    // A shift's phones coming back over three minutes; a Return that failed (a cart's connections busy for 5 s) is counted, not waited for.
    const phones = Array.from({ length: carts * perCart }, (_, i) => ({
      cart: Math.floor(i / perCart),
      slot: i % perCart,
      phone: new SimulatedDevice({ batteryLevel: 0.9 }),
    }));
    await enrolAll(mdm, phones);
    // Every cart learns every phone's enrolment (its serial, unlock token) from the check-ins one
    // cart received: done long before a shift in a hospital, so not measured with it.
    const relayed = performance.now();
    // A cart still starting (no cursor yet) reads every check-in from the start once it listens.
    let behind = Infinity;
    while (behind > 0 && performance.now() - relayed < 600_000) {
      behind = Number((await superuserQuery(primary, RELAY_BEHIND(carts), 'hospital'))[0].behind);
      if (behind > 0) await sleep(1000);
    }
    phase(
      `${carts - behind} of ${carts} carts read the ${phones.length} phones' check-ins in ${((performance.now() - relayed) / 1000).toFixed(0)} s; docking them`,
    );
    await dock(children, processOf, phones, 180_000, 30_000);
    const docked = Object.fromEntries(
      (await superuserQuery(primary, 'SELECT status, count(*)::int AS n FROM checkout_devices GROUP BY status', 'hospital')).map(({ status, n }) => [
        status,
        n,
      ]),
    ) as Record<string, number>;
    phase(`phones docked: ${JSON.stringify(docked)}; taps at one idle cart`);
    const taps = tapSchedule((cart) => processOf(cart).tap(cart), carts);
    // The idle cart is in another process than the one NanoMDM posts to (whose carts share its MDM
    // connection): its phones' answers come through the database, as at most carts.
    const idle = await taps.idle(carts - 1);
    let peakConnections = 0;
    const loads: number[] = [];
    const counting = setInterval(() => {
      loads.push(loadavg()[0]);
      superuserQuery(primary, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'device-checkout %'").then(
        ([{ n }]) => (peakConnections = Math.max(peakConnections, Number(n))),
        () => undefined,
      );
    }, 1000);
    phase(`${tapCount} taps at random carts and instants`);
    // HOSPITAL_PROFILE=1: where the CPU goes while the taps run, each process's profile beside its log.
    const profiling = process.env.HOSPITAL_PROFILE ? [...children.map((child) => child.profile()), await ownProfile(logs)] : [];
    const loaded = await taps.within(tapCount, windowMs);
    clearInterval(counting);
    await Promise.all(profiling.map((stop) => stop()));
    if (profiling.length > 0) phase(`CPU profiles of the taps in ${logs}`);
    const load = loaded.flatMap(({ elapsed }) => (elapsed === undefined ? [] : [elapsed]));
    const served = (returning: boolean) => loaded.flatMap((o) => (o.elapsed === undefined || (o.returning ?? 0) > 0 !== returning ? [] : [o.elapsed]));
    const figure = (times: number[]) => ({ taps: times.length, p99: times.length > 0 ? percentile(times, 99) : NaN });
    await sleep(5000);

    phase('a failover under the same rate of taps');
    const failoverTaps = Math.round((tapCount * failoverMs) / windowMs);
    const during = taps.within(failoverTaps, failoverMs);
    await sleep(10_000);
    const died = wallClock();
    await primary.kill();
    const moved = address.moveTo(standby.port);
    await standby.promote();
    const promotion = wallClock() - died;
    await moved;
    const outcomes = await during;
    const firstServedAt = Math.min(...outcomes.filter((o) => o.started >= died && o.elapsed !== undefined).map((o) => o.answered));
    const refusedMeanwhile = byCode(outcomes.filter(({ answered }) => answered >= died && answered < firstServedAt));
    const afterwards = outcomes.filter((o) => o.started > firstServedAt);
    // Each tap of the failover, ms from the primary's death: where the time to the first served one went.
    const fromDeath = outcomes.map((o) => ({ ...o, started: Math.round(o.started - died), answered: Math.round(o.answered - died) }));
    writeFileSync(join(logs, 'failover-taps.json'), JSON.stringify(fromDeath.sort((a, b) => a.started - b.started)));
    await sleep(5000);
    const doubles = (await Promise.all(children.map((child) => child.doubles()))).reduce((sum, n) => sum + n, 0);
    return {
      carts,
      processes: children.length,
      phones: carts * perCart,
      docked,
      maxConnections,
      peakConnections,
      byReturns: { quiet: figure(served(false)), returning: figure(served(true)) },
      loadAverage: median(loads),
      cores: cpus().length,
      checkouts: load.length,
      refused: byCode(loaded),
      doubles,
      idle: { p50: median(idle), p99: percentile(idle, 99) },
      load: { p50: median(load), p99: percentile(load, 99) },
      failover: {
        taps: failoverTaps,
        promotion,
        firstServed: firstServedAt - died,
        refused: refusedMeanwhile,
        after: { taps: afterwards.length, served: afterwards.filter((o) => o.elapsed !== undefined).length, refused: byCode(afterwards) },
      },
    };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await mdm.stop();
    address.stop();
    await Promise.all([primary.stop(), standby.stop()]);
  }
}

/** This process's (the MDM simulator's and the bench's) profile, written as `bench.cpuprofile` in `dir` when stopped. */
async function ownProfile(dir: string): Promise<() => Promise<void>> {
  const stop = await startProfile();
  return () => stop(join(dir, 'bench.cpuprofile'));
}

/** Of `carts`, those not yet reading webhooks (no cursor) or behind the newest one another cart kept. */
const RELAY_BEHIND = (carts: number): string => `SELECT ${carts} - count(*)::int AS behind FROM checkout_webhook_cursors c
  WHERE last_id >= (SELECT coalesce(max(id), 0) FROM checkout_webhooks w WHERE w.cart <> c.cart)`;

/** Docks each phone on its cart and slot, spread over `spreadMs`; waits as `spreadDocks` does. */
async function dock(
  children: CartProcess[],
  processOf: (cart: number) => CartProcess,
  phones: { cart: number; slot: number; phone: SimulatedDevice }[],
  spreadMs: number,
  settleMs: number,
): Promise<void> {
  await spreadDocks(
    phones.length,
    spreadMs,
    settleMs,
    (i) => {
      const { cart, slot, phone } = phones[i];
      processOf(cart).dock(cart, phone, Math.floor(slot / PORTS), (slot % PORTS) + 1);
    },
    (listener) => {
      let listening = true;
      for (const child of children) child.onReturned(() => listening && listener());
      return () => (listening = false);
    },
  );
}

/** The refused taps among `outcomes`, by code. */
function byCode(outcomes: TapOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { code } of outcomes) if (code) counts[code] = (counts[code] ?? 0) + 1;
  return counts;
}

export function formatHospital(r: HospitalResult): string {
  const f = r.failover;
  return (
    `${r.carts} carts in ${r.processes} Node-RED processes, ${r.phones} phones (after docking: ${refusalCounts(r.docked)}), one PostgreSQL (max_connections ${r.maxConnections}): ${r.checkouts} check-outs at random instants (refused taps: ${refusalCounts(r.refused)}); ` +
    `a phone handed out twice: ${r.doubles}; connections at peak ${r.peakConnections}; ` +
    `tap to flashing white p50 ${ms(r.load.p50)}, p99 ${ms(r.load.p99)}, against one idle cart of the same hospital p50 ${ms(r.idle.p50)}, p99 ${ms(r.idle.p99)}: ` +
    `p99 ${(r.load.p99 / r.idle.p99).toFixed(2)}x (target at most 1.5); ` +
    `taps at a cart with none of its Returns running p99 ${ms(r.byReturns.quiet.p99)} (${r.byReturns.quiet.taps}), with some ${ms(r.byReturns.returning.p99)} (${r.byReturns.returning.taps}); ` +
    `the machine's load average meanwhile ${r.loadAverage.toFixed(1)} on ${r.cores} cores\n` +
    `  failover under that load (${f.taps} taps over it, the primary killed, the standby promoted at once): the standby's promotion ${ms(f.promotion)}; ` +
    `the primary's death to the first tap served ${ms(f.firstServed)} (${(f.firstServed / f.promotion).toFixed(2)}x the promotion); ` +
    `refused meanwhile: ${refusalCounts(f.refused)}; afterwards ${f.after.served} of ${f.after.taps} taps served (refused: ${refusalCounts(f.after.refused)})`
  );
}
