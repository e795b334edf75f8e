import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readlinkSync, readdirSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory for pty links and user directories. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value other than undefined/false, or fails after `ms`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Under a fake clock that fakes timers and Date only: lets real I/O (a store's disk or
 * database) and the work it starts finish until `check` holds, the fake clock standing still;
 * fails after `ms` of real time.
 */
export async function settle(
  clock: { tickAsync(ms: number): Promise<number> },
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 5000,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await clock.tickAsync(0);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** How many file descriptors of this process have the terminal behind `path` open. */
export function openDescriptors(path: string): number {
  let target: string;
  try {
    target = realpathSync(path);
  } catch {
    return 0;
  }
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === target;
    } catch {
      return false;
    }
  }).length;
}

/**
 * Makes `dir` refuse writes, as a read-only disk does (EROFS through a read-only bind mount
 * as root, where permissions do not stop writes; EACCES through its mode otherwise); returns
 * the call that makes it writable again.
 */
export function readOnly(dir: string): () => void {
  if (process.getuid?.() === 0) {
    execFileSync('mount', ['--bind', dir, dir]);
    execFileSync('mount', ['-o', 'remount,bind,ro', dir]);
    return () => execFileSync('umount', [dir]);
  }
  chmodSync(dir, 0o555);
  return () => chmodSync(dir, 0o755);
}
