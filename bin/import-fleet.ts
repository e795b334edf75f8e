#!/usr/bin/env node
import { Pool } from 'pg';
import { useCatalogs } from '../nodes/lib/coded-error';
import { englishTexts } from '../nodes/lib/english-texts';
import { importFileStore } from '../nodes/lib/fleet/import-file-store';
import { PostgresFleetStore } from '../nodes/lib/fleet/postgres-fleet-store';

// device-checkout-import-fleet <fleet file> <cart>: one cart's file store into the shared
// PostgreSQL fleet named by DATABASE_URL (user and password as PostgreSQL's own tools read
// them: PGUSER, PGPASSWORD or ~/.pgpass). Safe to run again.
const [file, cart] = process.argv.slice(2);
const databaseUrl = process.env.DATABASE_URL;
if (!file || !cart || !databaseUrl) {
  console.error(
    'usage: DATABASE_URL=postgres://host:5432/devices device-checkout-import-fleet <user dir>/device-checkout/fleet-<id>.json <cart>\n' +
      'Takes over the devices and audit trail of one cart\u2019s file store as <cart> in the shared fleet; a device the database knows is left as it is.',
  );
  process.exit(2);
}
useCatalogs(englishTexts);
const pool = new Pool({ connectionString: databaseUrl, max: 1 });
importFileStore(file, new PostgresFleetStore({ pool, cart }))
  .then(({ devices, known, entries }) => {
    console.log(
      `${file} -> cart ${cart}: ${devices} device${devices === 1 ? '' : 's'} imported with ${entries} audit entries; ${known} already in the database, left as they are.`,
    );
  })
  .catch((err: Error & { code?: string }) => {
    console.error(`nothing more was imported: ${err.code ?? 'ERROR'}: ${err.message}`);
    process.exitCode = 1;
  })
  .finally(() => void pool.end());
