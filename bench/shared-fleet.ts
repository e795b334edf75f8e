import { Client } from 'pg';
import { createDatabase, startPostgres } from '../harness/postgres';
import { startRemoteMdm, tapsToReady, type Phase } from './checkout';
import { median, ms, percentile } from './stats';

export interface StoreTapResult {
  samples: number;
  file: { p50: number; p99: number };
  postgres: { p50: number; p99: number };
  /** Statements sent to PostgreSQL (BEGIN and COMMIT included) per badge tap to flashing white, median. */
  queriesPerCheckout: number;
  /** ...from a phone docking until its Return workflow (Check In, wallpaper, Clear Passcode) is done. */
  queriesPerDock: number;
  /** ...for the check-in of a phone that was out (the Return's store changes). */
  queriesPerReturn: number;
}

/**
 * Badge tap to flashing white on one cart with the file store and with the PostgreSQL store
 * (a real server on loopback, started here), the same MDM and hub in the same run; and the
 * statements each check-out and each dock sends to the database, counted in this process.
 */
export async function measureStoreTap(samples: number): Promise<StoreTapResult> {
  const postgres = await startPostgres();
  const { mdm, close } = await startRemoteMdm();
  // Every statement of this process passes here, in a transaction or not.
  let queries = 0;
  const send = Client.prototype.query;
  Client.prototype.query = function (this: Client, ...args: unknown[]) {
    queries++;
    return (send as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof send;
  const counted: Record<'dock' | 'checkout' | 'return', number[]> = { dock: [], checkout: [], return: [] };
  let mark = 0;
  let last: Phase = 'returned';
  const phase = (name: Phase): void => {
    if (name === 'ready') counted.checkout.push(queries - mark);
    if (name === 'returned') counted[last === 'dock' ? 'dock' : 'return'].push(queries - mark);
    mark = queries;
    last = name;
  };
  try {
    const file = await tapsToReady(samples, mdm);
    const databaseUrl = await createDatabase(postgres, 'bench');
    const postgresTaps = await tapsToReady(samples, mdm, { store: 'postgres', databaseUrl, cart: 'bench' }, phase);
    return {
      samples,
      file: { p50: median(file), p99: percentile(file, 99) },
      postgres: { p50: median(postgresTaps), p99: percentile(postgresTaps, 99) },
      queriesPerCheckout: median(counted.checkout),
      queriesPerDock: median(counted.dock),
      queriesPerReturn: median(counted.return),
    };
  } finally {
    Client.prototype.query = send;
    await close();
    await postgres.stop();
  }
}

export function formatStoreTap(r: StoreTapResult): string {
  return (
    `badge tap to flashing white, ${r.samples} check-outs each: file store p50 ${ms(r.file.p50)}, p99 ${ms(r.file.p99)}; ` +
    `PostgreSQL store p50 ${ms(r.postgres.p50)}, p99 ${ms(r.postgres.p99)}: ${(r.postgres.p50 / r.file.p50).toFixed(2)}x at p50, ${(r.postgres.p99 / r.file.p99).toFixed(2)}x at p99 (target at most 1.2); ` +
    `statements to the database: ${r.queriesPerCheckout} per check-out (tap to flashing white), ${r.queriesPerReturn} per check-in of a returned phone, ${r.queriesPerDock} per dock of a new phone (identified, then its Return workflow)`
  );
}
