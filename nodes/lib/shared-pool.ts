/** Anything a pool can share: it must be able to shut itself down. */
export interface Closable {
  close(): Promise<void>;
}

/**
 * One shared resource per key (a serial path, a USB socket, an MDM url), counted by its
 * users and closed when the last one lets go, so a redeploy never opens a port twice.
 */
export class SharedPool<T extends Closable> {
  private readonly entries = new Map<string, { value: T; users: number }>();

  /** The resource for `key`, created on first use. */
  acquire(key: string, create: () => T): T {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { value: create(), users: 0 };
      this.entries.set(key, entry);
    }
    entry.users++;
    return entry.value;
  }

  /** Lets go of one use of `key`; the last release closes the resource. */
  async release(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.users--;
    if (entry.users > 0) return;
    this.entries.delete(key);
    await entry.value.close();
  }
}
