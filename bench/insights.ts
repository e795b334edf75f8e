import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { FileFleetStore } from '../nodes/lib/fleet/file-fleet-store';
import type { FleetStore } from '../nodes/lib/fleet/fleet-store';
import { InsightSummary, insightQuery, type InsightQuery } from '../nodes/lib/fleet/insights';
import { PostgresFleetStore } from '../nodes/lib/fleet/postgres-fleet-store';
import { createDatabase, startPostgres } from '../harness/postgres';
import { tempDir } from '../harness/support';
import { median } from './stats';

export interface InsightsResult {
  phones: number;
  rows: number;
  /** Each figure for the last 30 days of the trail, ms (median), the whole fleet and one cart. */
  figures: { figure: string; fleet: number; cart?: number }[];
  /** Counting the range's audit rows (an index scan of what every figure reads at least), ms. */
  baseline: number;
  /** The file store: a status change, ms (median per change), and the summary's part of it. */
  file: { change: number; summary: number };
}

/** The insights' store calls, by figure. */
const FIGURES: [string, (store: FleetStore, query: InsightQuery) => Promise<unknown>, boolean][] = [
  ['states', (store, query) => store.statusChanges(query), false],
  ['checkouts-by-hour', (store, query) => store.checkoutsByHour(query), true],
  ['kept', (store, query) => store.keptHours(query), true],
  ['failing', (store, query) => store.failingPhones(query), true],
  ['failing-ports', (store, query) => store.failingPorts(query), true],
  ['people', (store, query) => store.people(query), false],
];

/**
 * A year of a hospital's audit trail on a real PostgreSQL: `phones` phones on 100 carts, each
 * taken about weekly (its status changes, who took it, where it was docked again; one return in
 * 50 failing, cleared an hour later), about 2 million rows for 5,000 phones. Each insights figure
 * for its last 30 days, `runs` times (the median), against counting that range's rows; then
 * the file store: `changes` status changes of a 500-phone cart, against the summary's own work
 * for the same entries (what a change without the summary would save).
 */
export async function measureInsights(phones: number, runs: number, changes: number): Promise<InsightsResult> {
  const postgres = await startPostgres();
  try {
    const pool = new Pool({ connectionString: await createDatabase(postgres, 'insights'), max: 2 });
    const store = new PostgresFleetStore({ pool, cart: 'ward-0' });
    await store.device('none'); // the schema
    const cycles = Math.round((phones * 365) / 6.4);
    await pool.query(YEAR_OF_CHECKOUTS, [phones, cycles]);
    await pool.query('ANALYZE checkout_audit');
    const [{ rows, last }] = (await pool.query<{ rows: string; last: Date }>('SELECT count(*) AS rows, max(at) AS last FROM checkout_audit')).rows;
    const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const fleetQuery = insightQuery('30d', last, timeZone);
    const cartQuery = insightQuery('30d', last, timeZone, 'ward-3');
    const timed = async (work: () => Promise<unknown>): Promise<number> => {
      const times: number[] = [];
      for (let run = 0; run < runs; run++) {
        const started = performance.now();
        await work();
        times.push(performance.now() - started);
      }
      return median(times);
    };
    const baseline = await timed(() =>
      pool.query('SELECT count(*) FROM checkout_audit WHERE at >= $1 AND at < $2', [fleetQuery.from.toISOString(), fleetQuery.to.toISOString()]),
    );
    const figures: InsightsResult['figures'] = [];
    for (const [figure, read, perCart] of FIGURES)
      figures.push({ figure, fleet: await timed(() => read(store, fleetQuery)), ...(perCart && { cart: await timed(() => read(store, cartQuery)) }) });
    await store.close();
    await pool.end();
    return { phones, rows: Number(rows), figures, baseline, file: await fileChanges(changes) };
  } finally {
    await postgres.stop();
  }
}

/**
 * `changes` status changes (Checked In, Checking Out, Checked Out, Returning and again) of a
 * 500-phone cart's file store, per change; and InsightSummary.add for the entries they wrote.
 */
async function fileChanges(changes: number): Promise<InsightsResult['file']> {
  const store = new FileFleetStore(join(tempDir('bench-insights'), 'fleet-cart.json'));
  const udids = Array.from({ length: 500 }, (_, i) => `PHONE-${i}`);
  for (const udid of udids) await store.docked(udid, { hubId: 'hub', hub: 'Cart A', port: 1 });
  const cycle = ['Checking Out', 'Checked Out', 'Returning', 'Checked In'] as const;
  const started = performance.now();
  for (let i = 0; i < changes; i++) await store.setStatus(udids[i % udids.length], cycle[Math.floor(i / udids.length) % cycle.length], { who: 'bench' });
  const change = (performance.now() - started) / changes;
  const entries = await store.audit();
  await store.close();
  const times: number[] = [];
  for (let run = 0; run < 5; run++) {
    const summary = new InsightSummary();
    const begun = performance.now();
    for (const entry of entries) summary.add(entry);
    times.push((performance.now() - begun) / changes);
  }
  return { change, summary: median(times) };
}

/**
 * A year of check-outs, generated where it is stored: cycle n is phone n % $1, its (n / $1)th
 * check-out, 6.4 days after the last, at a quarter hour of its own, kept half an hour to twelve
 * hours; one return in 50 fails (DEVICE_TIMEOUT) and is cleared an hour later. 7 rows a cycle
 * (8 when it fails), in time order.
 */
const YEAR_OF_CHECKOUTS = `
  INSERT INTO checkout_audit (at, udid, cart, what, from_value, to_value, who, why)
  SELECT timestamptz '2025-12-01' + c.cycle * interval '6.4 days' + (c.phone % 96) * interval '15 minutes'
           + CASE WHEN k.back THEN c.kept ELSE interval '0' END + k.after,
         'PHONE-' || c.phone, 'ward-' || (c.phone % 100), k.what, k.from_value,
         CASE k.to_value WHEN '$user' THEN c.nurse WHEN '$port' THEN (c.phone % 10 + 1)::text ELSE k.to_value END,
         CASE WHEN k.what = 'check-out started: user' THEN c.nurse ELSE k.who END, k.why
    FROM (SELECT n % $1 AS phone, n / $1 AS cycle, 'nurse-' || ((n * 7) % 3000) AS nurse,
                 interval '30 minutes' + ((n * 13) % 24) * interval '30 minutes' AS kept, n % 50 = 0 AS fails
            FROM generate_series(0, $2 - 1) AS n) c
    CROSS JOIN (VALUES
      (false, interval '0', 'status', 'Checked In', 'Checking Out', 'hub', 'badge tap', NULL::boolean),
      (false, interval '0', 'check-out started: user', NULL, '$user', NULL, NULL, NULL),
      (false, interval '5 seconds', 'status', 'Checking Out', 'Checked Out', 'hub', 'unplugged', NULL),
      (true, interval '0', 'docked: hub', NULL, 'Cart A', 'hub', NULL, NULL),
      (true, interval '0', 'docked: port', NULL, '$port', 'hub', NULL, NULL),
      (true, interval '1 second', 'status', 'Checked Out', 'Returning', 'hub', 'docked', NULL),
      (true, interval '1 minute', 'status', 'Returning', 'Checked In', 'hub', NULL, false),
      (true, interval '1 minute', 'status', 'Returning', 'Failed', 'hub', 'DEVICE_TIMEOUT: no answer in 60 s', true),
      (true, interval '1 hour', 'status', 'Failed', 'Checked In', 'admin', 'cleared by an admin', true)
    ) AS k(back, after, what, from_value, to_value, who, why, when_fails)
   WHERE k.when_fails IS NULL OR k.when_fails = c.fails
   ORDER BY 1`;

export function formatInsights(r: InsightsResult): string {
  const ms = (value: number) => `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ms`;
  const slowest = Math.max(...r.figures.flatMap((f) => [f.fleet, f.cart ?? 0]));
  return (
    `${r.rows.toLocaleString('en')} audit rows of ${r.phones.toLocaleString('en')} phones over a year on PostgreSQL, each figure for 30 days (median): ` +
    r.figures.map((f) => `${f.figure} ${ms(f.fleet)}${f.cart === undefined ? '' : ` (one cart ${ms(f.cart)})`}`).join(', ') +
    `; counting the range's rows ${ms(r.baseline)}; slowest ${ms(slowest)} (${(slowest / r.baseline).toFixed(1)}x the count; target at most 1 s)\n` +
    `  the file store: a status change ${ms(r.file.change)}, of which the summary ${(r.file.summary * 1000).toFixed(1)} \u00b5s: ` +
    `${(r.file.change / (r.file.change - r.file.summary)).toFixed(3)}x a change without it (target at most 1.2x)`
  );
}
