import type { ByteLink } from './hub/byte-link';

/**
 * Stand-ins for hardware in this process, by path prefix (`sim:` for the demo's and the tests'
 * simulated cart): registered by whoever embeds the package, never by the package itself, so a
 * user's Node-RED only ever opens real serial ports and real usbmuxd sockets.
 */
export interface Transports {
  /** Opens the hub named after the prefix as a byte link. */
  hub(name: string): Promise<ByteLink>;
  /** Opens the serial badge reader named after the prefix as a byte link. */
  reader(name: string): Promise<ByteLink>;
  /** The UNIX socket of the usbmuxd named after the prefix. */
  usbSocket(name: string): Promise<string>;
}

const registered = new Map<string, Transports>();

export function registerTransports(prefix: string, transports: Transports): void {
  registered.set(prefix, transports);
}

/** The registered transports for `path` and the name after their prefix, if any. */
export function transportFor(path: string): { transports: Transports; name: string } | undefined {
  for (const [prefix, transports] of registered) if (path.startsWith(prefix)) return { transports, name: path.slice(prefix.length) };
  return undefined;
}
