import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CodedError } from './coded-error';

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
    throw new CodedError('STORAGE_DAMAGED', `${path} is damaged (not JSON: ${(err as Error).message})`, { path });
  }
}

/**
 * Writes a file so that a crash or a power cut leaves either the old file or the new one,
 * never half of one: a temporary file, flushed to the disk, renamed over the old one, and the
 * rename flushed too. A failure (a full or read-only disk) fails with STORAGE_FAILED naming
 * the path and leaves the old file and no temporary one.
 */
export function writeFileAtomically(path: string, text: string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(temporary, 'w');
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    syncDirectory(dirname(path));
  } catch (err) {
    rmSync(temporary, { force: true });
    throw storageFailed('write', path, err);
  }
}

export function writeJsonAtomically(path: string, value: unknown): void {
  writeFileAtomically(path, JSON.stringify(value, null, 2));
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
  return new CodedError('STORAGE_FAILED', `cannot ${action} ${path}: ${reason}`, { path });
}

/** Makes a rename in `directory` survive a power cut. */
function syncDirectory(directory: string): void {
  const fd = openSync(directory, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
