import { readFileSync, renameSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { catalogText, CodedError } from './coded-error';

/**
 * Reads a JSON file, or `fallback` when it does not exist yet. A file that is there but is
 * not JSON fails with STORAGE_DAMAGED (left as it is: the caller decides), one that cannot be
 * read with STORAGE_FAILED; both name the path.
 */
export function readJson<T>(path: string, fallback: T): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw storageFailed('read', path, err);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new CodedError('STORAGE_DAMAGED', catalogText('device-fleet.errors.not-json', { path, reason: (err as Error).message }), { path });
  }
}

let temporaries = 0;

/**
 * Writes a file so that a crash or a power cut leaves either the old file or the new one,
 * never half of one: a temporary file, flushed to the disk, renamed over the old one, and the
 * rename flushed too. Off the event loop: a slow disk holds up the caller, not every other
 * phone. A failure (a full or read-only disk) fails with STORAGE_FAILED naming the path and
 * leaves the old file and no temporary one. Writes of one path overlapping in time finish in
 * any order: a caller that needs an order waits (see `SnapshotFile`).
 */
export async function writeFileAtomically(path: string, text: string): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${++temporaries}.tmp`);
  try {
    // The directory is made when missing (the first write, or removed meanwhile), not checked at every write.
    const file = await open(temporary, 'w').catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      await mkdir(dirname(path), { recursive: true });
      return open(temporary, 'w');
    });
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
    await syncDirectory(dirname(path));
  } catch (err) {
    await rm(temporary, { force: true });
    throw storageFailed('write', path, err);
  }
}

/**
 * A file written as whole snapshots, in the order asked: a snapshot asked for while another is
 * being written replaces any still waiting (only the newest matters), and each caller learns
 * when the disk has hers or a newer one.
 */
export class SnapshotFile {
  private writing: Promise<void> = Promise.resolve();
  private newest?: { text: string; written: Promise<void> };

  constructor(readonly path: string) {}

  write(value: unknown): Promise<void> {
    const text = JSON.stringify(value, null, 2);
    if (this.newest) {
      this.newest.text = text;
      return this.newest.written;
    }
    const newest: { text: string; written: Promise<void> } = { text, written: Promise.resolve() };
    newest.written = this.writing
      .catch(() => undefined)
      .then(() => {
        this.newest = undefined;
        return writeFileAtomically(this.path, newest.text);
      });
    this.newest = newest;
    this.writing = newest.written;
    return newest.written;
  }
}

/** Moves a damaged file out of the way, keeping it for the admin; returns where it went. */
export function setAside(path: string): string {
  const aside = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(path, aside);
  return aside;
}

export function storageFailed(action: 'read' | 'write', path: string, err: unknown): CodedError {
  if (err instanceof CodedError) return err;
  const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new CodedError(
    'STORAGE_FAILED',
    catalogText(action === 'read' ? 'device-fleet.errors.cannot-read' : 'device-fleet.errors.cannot-write', { path, reason }),
    { path },
  );
}

/** Makes a rename in `directory` survive a power cut. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
