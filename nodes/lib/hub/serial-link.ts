import { EventEmitter } from 'node:events';
import { SerialPort } from 'serialport';
import type { ByteLink } from './byte-link';
import { catalogText, CodedError } from '../coded-error';

/** A hub on a real serial port (8N1, no flow control). */
class SerialLink extends EventEmitter implements ByteLink {
  constructor(private readonly port: SerialPort) {
    super();
    port.on('data', (chunk: Buffer) => this.emit('data', chunk));
    port.once('close', (err?: Error) => this.emit('close', err));
    // Read errors end in 'close'; write errors surface as command timeouts.
    port.on('error', () => undefined);
  }

  write(data: string): void {
    this.port.write(Buffer.from(data, 'latin1'));
  }

  close(): Promise<void> {
    if (!this.port.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.port.close(() => resolve()));
  }
}

/** Opens a serial port (8N1); `failure` words why it cannot be opened (the hub's words unless told). */
export function openSerialLink(
  path: string,
  baudRate: number,
  failure = (reason: string): CodedError => new CodedError('HUB_OPEN_FAILED', catalogText('smart-hub.errors.cannot-open', { path, reason })),
): Promise<ByteLink> {
  const port = new SerialPort({ path, baudRate, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false, autoOpen: false });
  return new Promise((resolve, reject) => {
    port.open((err) => {
      // serialport's own text ends in ", cannot open <path>": said once, first.
      if (err) reject(failure(err.message.replace(/^Error: /, '').replace(`, cannot open ${path}`, '')));
      else resolve(new SerialLink(port));
    });
  });
}

/** Serial ports the host can see; empty where listing is impossible (no udevadm). */
export async function listSerialPorts(): Promise<{ path: string; manufacturer?: string; serialNumber?: string }[]> {
  try {
    const ports = await SerialPort.list();
    return ports.map(({ path, manufacturer, serialNumber }) => ({ path, manufacturer, serialNumber }));
  } catch {
    return [];
  }
}
