import type { EventEmitter } from 'node:events';

/**
 * A byte pipe to a hub: a real serial port or a simulated hub.
 * Emits `data` (Buffer) and `close` (Error | undefined) once, when the link goes away.
 */
export interface ByteLink extends EventEmitter {
  write(data: string): void;
  close(): Promise<void>;
}

export type LinkOpener = (path: string, baudRate: number) => Promise<ByteLink>;
