import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Pool } from 'pg';
import { Fleet } from '../nodes/lib/fleet/fleet';
import { FleetDirectory } from '../nodes/lib/fleet/fleet-directory';
import { auditCsv, AUDIT_CSV_HEADER, auditCsvRows } from '../nodes/lib/fleet/fleet-view';
import { PostgresFleetStore } from '../nodes/lib/fleet/postgres-fleet-store';
import { createDatabase, startPostgres } from '../harness/postgres';
import { tempDir } from '../harness/support';
import { median } from './stats';

export interface AuditExportResult {
  rows: number;
  baselineRows: number;
  /** Peak heap growth while exporting, MiB (median of the runs), streamed and all at once. */
  streamed: { rows: number; baseline: number };
  allAtOnce: { rows: number; baseline: number };
}

// A collection before each export, so each starts from what the process really holds.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** A client that takes its download at its own pace: each chunk is taken a moment later. */
const slowClient = (): Writable =>
  new Writable({
    highWaterMark: 64 * 1024,
    write: (_chunk, _encoding, done) => setImmediate(done),
  });

/** Peak heap growth (MiB) while `work` runs, sampled every 5 ms. */
async function peakGrowth(work: () => Promise<void>): Promise<number> {
  collect();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
  await work();
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  clearInterval(sampler);
  return (peak - before) / 2 ** 20;
}

async function streamed(directory: FleetDirectory, out: Writable): Promise<void> {
  const phones = await directory.phoneNames();
  out.write(AUDIT_CSV_HEADER);
  for await (const page of directory.auditPages({})) {
    if (!out.write(auditCsvRows(page, phones))) await new Promise((resolve) => out.once('drain', resolve));
  }
  await new Promise<void>((resolve) => out.end(resolve));
}

async function allAtOnce(directory: FleetDirectory, out: Writable): Promise<void> {
  const csv = auditCsv(await directory.audit({}), await directory.phoneNames());
  await new Promise<void>((resolve) => out.end(csv, resolve));
}

/**
 * A year's audit export (`rows` entries on a real PostgreSQL) against a day's (`baselineRows`)
 * in the same run: how much the heap grows while it is written to a client, streamed a page at
 * a time (what the admin API does) and built whole first (what it did before).
 */
export async function measureAuditExport(rows: number, baselineRows: number, runs: number): Promise<AuditExportResult> {
  const postgres = await startPostgres();
  const growth = { streamed: { rows: [] as number[], baseline: [] as number[] }, allAtOnce: { rows: [] as number[], baseline: [] as number[] } };
  try {
    for (const [size, key] of [
      [rows, 'rows'],
      [baselineRows, 'baseline'],
    ] as const) {
      const url = await createDatabase(postgres, `export_${size}`);
      const pool = new Pool({ connectionString: url, max: 4 });
      const store = new PostgresFleetStore({ pool, cart: 'ward-3' });
      await store.device('none'); // the schema
      await pool.query(
        `INSERT INTO checkout_audit (at, udid, cart, what, from_value, to_value, who, why)
         SELECT timestamptz '2026-01-01' + n * interval '5 minutes', 'PHONE-' || (n % 40), 'ward-3', 'status', 'Checked In', 'Checking Out', 'nurse-' || (n % 300), 'badge tap'
           FROM generate_series(1, $1) AS n`,
        [size],
      );
      const fleet = new Fleet({
        id: `export-${size}`,
        dataDir: tempDir('bench-export'),
        store,
        rules: { deadlineSeconds: 60, userLimit: 1, batteryThreshold: 0.2 },
        lockerApp: 'org.example.locker',
        badgeLookupUrl: '',
        mdm: () => undefined,
        text: (k) => k,
        log: { info: () => undefined, warn: () => undefined, error: () => undefined },
      });
      const directory = new FleetDirectory();
      directory.add('fleet', fleet);
      for (let run = 0; run < runs; run++) {
        growth.streamed[key].push(await peakGrowth(() => streamed(directory, slowClient())));
        growth.allAtOnce[key].push(await peakGrowth(() => allAtOnce(directory, slowClient())));
      }
      await fleet.close();
      await pool.end();
    }
  } finally {
    await postgres.stop();
  }
  const medians = (of: { rows: number[]; baseline: number[] }) => ({ rows: median(of.rows), baseline: median(of.baseline) });
  return { rows, baselineRows, streamed: medians(growth.streamed), allAtOnce: medians(growth.allAtOnce) };
}

export function formatAuditExport({ rows, baselineRows, streamed: s, allAtOnce: a }: AuditExportResult): string {
  const mib = (value: number) => `${value.toFixed(1)} MiB`;
  return (
    `audit export of ${rows.toLocaleString('en')} entries against ${baselineRows.toLocaleString('en')} (heap growth while written to a client, median): ` +
    `streamed ${mib(s.rows)} vs ${mib(s.baseline)} (${(s.rows / Math.max(s.baseline, 0.1)).toFixed(1)}x); ` +
    `built whole first ${mib(a.rows)} vs ${mib(a.baseline)} (${(a.rows / Math.max(a.baseline, 0.1)).toFixed(1)}x)`
  );
}
