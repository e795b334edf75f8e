import { FileFleetStore } from './file-fleet-store';
import type { PostgresFleetStore } from './postgres-fleet-store';

export interface ImportResult {
  /** Devices taken over, with their audit trails. */
  devices: number;
  /** Devices the database knew already: left as they are there. */
  known: number;
  /** Audit entries written. */
  entries: number;
}

/**
 * Moves one cart's file store (`device-checkout/fleet-<id>.json` and its audit trail) into the
 * shared database as `store`'s cart: every device with its status, user, attributes and pending
 * deadline, each with its own audit trail and an `imported` entry. Idempotent: a device the
 * database knows already is left as it is, so running it twice (or after the cart started on
 * the database) changes nothing. A damaged file fails with STORAGE_DAMAGED before anything is written.
 */
export async function importFileStore(file: string, store: PostgresFleetStore, now = new Date()): Promise<ImportResult> {
  const source = new FileFleetStore(file);
  const result: ImportResult = { devices: 0, known: 0, entries: 0 };
  try {
    const audit = await source.audit();
    for (const record of await source.devices()) {
      const trail = [
        ...audit.filter((e) => e.udid === record.udid),
        { at: now.toISOString(), udid: record.udid, what: 'imported', from: 'file', to: store.cart, who: 'import', why: file },
      ];
      if (await store.adopt(record, trail)) {
        result.devices++;
        result.entries += trail.length;
      } else result.known++;
    }
  } finally {
    await source.close();
  }
  return result;
}
