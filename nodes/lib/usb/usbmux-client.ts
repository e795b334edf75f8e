import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { catalogText, CodedError } from '../coded-error';
import { reconnect, WakeablePause, type RetryDelays } from '../reconnect';
import { encodeFrame, FrameReader } from './usbmux-frames';

/** A device as usbmuxd reports it. */
export interface UsbDevice {
  deviceId: number;
  /** usbmuxd's SerialNumber is the device's UDID. */
  udid: string;
  /** Encodes the physical USB port path: which hub port the phone is on. */
  locationId?: number;
  productId?: number;
  connectionType?: string;
}

export type SocketOpener = (path: string) => Promise<Duplex>;

export interface UsbmuxClientOptions {
  path: string;
  openSocket: SocketOpener;
  retry?: RetryDelays;
}

export type UsbStatus = { status: 'connecting' | 'connected' | 'disconnected'; reason?: string };

const PROGRAM = 'node-red-contrib-device-checkout';

/**
 * usbmuxd's device list, kept current: ListDevices, then Listen for Attached / Detached /
 * Paired. When usbmuxd restarts it reconnects and lists again, reporting what came and went
 * meanwhile, once.
 *
 * Events: `attached` (UsbDevice, and whether it came from a device list on connecting rather
 * than arriving now), `detached`, `paired` (UsbDevice), `status` (UsbStatus).
 */
export class UsbmuxClient extends EventEmitter {
  private readonly known = new Map<string, UsbDevice>();
  private socket?: Duplex;
  private closing = false;
  private running?: Promise<void>;
  /** The pause before the next connection, cut short by close. */
  private readonly backoff = new WakeablePause();
  current: UsbStatus = { status: 'connecting' };

  constructor(private readonly options: UsbmuxClientOptions) {
    super();
  }

  devices(): UsbDevice[] {
    return [...this.known.values()];
  }

  /** Resolves once usbmuxd's device list has been read, or after `ms` when usbmuxd does not answer. */
  whenListed(ms: number): Promise<void> {
    if (this.current.status === 'connected') return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off('status', onStatus);
        resolve();
      };
      const onStatus = (status: UsbStatus): void => {
        if (status.status === 'connected') done();
      };
      const timer = setTimeout(done, ms);
      this.on('status', onStatus);
    });
  }

  byUdid(udid: string): UsbDevice | undefined {
    return this.known.get(udid);
  }

  start(): void {
    this.running ??= this.run();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.backoff.wake();
    this.socket?.destroy();
    await this.running;
  }

  private setStatus(status: UsbStatus): void {
    this.current = status;
    this.emit('status', status);
  }

  private run(): Promise<void> {
    return reconnect(
      {
        closing: () => this.closing,
        session: (opened) => this.session(opened),
        status: (status) => this.setStatus(status),
        pause: (ms) => this.backoff.wait(ms),
      },
      this.options.retry,
    );
  }

  /** One connection: list, then listen until it drops. */
  private async session(onConnected: () => void): Promise<void> {
    const socket = await this.options.openSocket(this.options.path).catch((err: Error) => {
      throw new CodedError('USB_UNREACHABLE', catalogText('device-fleet.errors.usbmuxd-unreachable', { path: this.options.path, reason: err.message }));
    });
    this.socket = socket;
    const reader = new FrameReader();
    const replies = new Map<number, (message: Record<string, unknown>) => void>();
    const ended = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        try {
          for (const { tag, message } of reader.push(chunk)) {
            const reply = replies.get(tag);
            if (reply) {
              replies.delete(tag);
              reply(message);
            } else this.onEvent(message);
          }
        } catch (err) {
          socket.destroy();
          reject(new CodedError('USB_PROTOCOL', catalogText('device-fleet.errors.usbmuxd-unreadable', { reason: (err as Error).message })));
        }
      });
      socket.once('close', () => resolve());
      socket.once('error', (err: Error) =>
        reject(new CodedError('USB_DISCONNECTED', catalogText('device-fleet.errors.usbmuxd-failed', { reason: err.message }))),
      );
    });
    const request = (tag: number, message: object): Promise<Record<string, unknown>> =>
      Promise.race([
        new Promise<Record<string, unknown>>((resolve) => {
          replies.set(tag, resolve);
          socket.write(encodeFrame({ ...message, ClientVersionString: PROGRAM, ProgName: PROGRAM, kLibUSBMuxVersion: 3 }, tag));
        }),
        ended.then(() => {
          throw new CodedError('USB_DISCONNECTED', catalogText('device-fleet.errors.usbmuxd-closed'));
        }),
      ]);
    try {
      const listed = await request(1, { MessageType: 'ListDevices' });
      this.reconcile(((listed.DeviceList as { Properties?: Record<string, unknown> }[]) ?? []).map((d) => toDevice(d.Properties ?? {})));
      const result = await request(2, { MessageType: 'Listen' });
      if (result.Number !== 0) throw new CodedError('USB_REFUSED', catalogText('device-fleet.errors.usbmuxd-refused', { result: String(result.Number) }));
      onConnected();
      this.setStatus({ status: 'connected' });
      await ended;
    } finally {
      socket.destroy();
      this.socket = undefined;
    }
  }

  /** After (re)connecting: report what came and went while nobody was listening. */
  private reconcile(listed: UsbDevice[]): void {
    const present = new Set(listed.map((d) => d.udid));
    for (const gone of [...this.known.values()].filter((d) => !present.has(d.udid))) {
      this.known.delete(gone.udid);
      this.emit('detached', gone);
    }
    for (const device of listed) this.onAttached(device, true);
  }

  private onAttached(device: UsbDevice, listed = false): void {
    // Wi-Fi connections have no hub port.
    if (device.connectionType && device.connectionType !== 'USB') return;
    const before = this.known.get(device.udid);
    if (before && before.deviceId === device.deviceId) return; // already known: usbmuxd replays on Listen
    if (before) this.emit('detached', before);
    this.known.set(device.udid, device);
    this.emit('attached', device, listed);
  }

  private onEvent(message: Record<string, unknown>): void {
    const type = message.MessageType;
    if (type === 'Attached') this.onAttached(toDevice((message.Properties as Record<string, unknown>) ?? message));
    else if (type === 'Detached' || type === 'Paired') {
      const device = [...this.known.values()].find((d) => d.deviceId === message.DeviceID);
      if (!device) return;
      if (type === 'Detached') this.known.delete(device.udid);
      this.emit(type === 'Detached' ? 'detached' : 'paired', device);
    }
  }
}

function toDevice(p: Record<string, unknown>): UsbDevice {
  return {
    deviceId: Number(p.DeviceID),
    udid: String(p.SerialNumber ?? ''),
    locationId: p.LocationID === undefined ? undefined : Number(p.LocationID),
    productId: p.ProductID === undefined ? undefined : Number(p.ProductID),
    connectionType: p.ConnectionType as string | undefined,
  };
}
