import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { catalogText, CodedError } from '../coded-error';
import { parsePlist, toPlist } from '../mdm/commands';
import { encodeFrame, FrameReader } from './usbmux-frames';
import type { SocketOpener } from './usbmux-client';

/** lockdownd's port on the device. */
const LOCKDOWN_PORT = 62078;
const LABEL = 'node-red-contrib-device-checkout';

/** The host's pairing with one device, as usbmuxd keeps it. */
export interface PairRecord {
  HostID: string;
  SystemBUID: string;
  HostCertificate: Buffer;
  HostPrivateKey: Buffer;
  RootCertificate: Buffer;
  DeviceCertificate: Buffer;
}

/** Lockdown frames: a 4-byte big-endian length, then an XML plist. */
class LockdownChannel {
  private buffered = Buffer.alloc(0);
  private waiting?: { resolve(message: Record<string, unknown>): void; reject(err: Error): void };

  constructor(private stream: Duplex) {
    this.listen();
  }

  /** Moves the channel onto another stream (the TLS layer over the same tunnel). */
  switchTo(stream: Duplex): void {
    this.stream.removeAllListeners('data');
    this.stream = stream;
    this.buffered = Buffer.alloc(0);
    this.listen();
  }

  request(message: object): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      const body = Buffer.from(toPlist({ Label: LABEL, ...message }), 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(body.length);
      this.stream.write(Buffer.concat([length, body]));
    });
  }

  private listen(): void {
    this.stream.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      if (this.buffered.length < 4) return;
      const length = this.buffered.readUInt32BE(0);
      if (this.buffered.length < 4 + length) return;
      const body = this.buffered.subarray(4, 4 + length);
      this.buffered = this.buffered.subarray(4 + length);
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.resolve(parsePlist(body) as Record<string, unknown>);
    });
    this.stream.once('close', () => this.waiting?.reject(new CodedError('DEVICE_GONE', catalogText('device-fleet.errors.lockdown-closed'))));
    this.stream.once('error', (err: Error) =>
      this.waiting?.reject(new CodedError('DEVICE_GONE', catalogText('device-fleet.errors.lockdown-failed', { reason: err.message }))),
    );
  }
}

/** One request to usbmuxd on a fresh socket, left open: after Connect it is the tunnel. */
async function usbmux(openSocket: SocketOpener, source: string, message: object): Promise<{ reply: Record<string, unknown>; socket: Duplex }> {
  const socket = await openSocket(source).catch((err: Error) => {
    throw new CodedError('USB_UNREACHABLE', catalogText('device-fleet.errors.usbmuxd-unreachable', { path: source, reason: err.message }));
  });
  const reader = new FrameReader();
  const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const [frame] = reader.push(chunk);
      if (!frame) return;
      socket.off('data', onData);
      resolve(frame.message);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(encodeFrame({ ...message, ClientVersionString: LABEL, ProgName: LABEL, kLibUSBMuxVersion: 3 }, 1));
  });
  return { reply, socket };
}

/** The pair record usbmuxd keeps for `udid`, or NOT_PAIRED. */
async function readPairRecord(openSocket: SocketOpener, source: string, udid: string): Promise<PairRecord> {
  const { reply, socket } = await usbmux(openSocket, source, { MessageType: 'ReadPairRecord', PairRecordID: udid });
  socket.destroy();
  if (!Buffer.isBuffer(reply.PairRecordData)) throw new CodedError('NOT_PAIRED', catalogText('device-fleet.errors.no-pair-record', { udid }));
  return parsePlist(reply.PairRecordData) as PairRecord;
}

/**
 * A lockdown session with one device over usbmuxd: Connect to lockdownd, StartSession with
 * the pair record, TLS with the host's certificate, then GetValue / SetValue.
 */
export class LockdownSession {
  private constructor(
    private readonly channel: LockdownChannel,
    private readonly socket: Duplex,
  ) {}

  static async open(openSocket: SocketOpener, source: string, device: { deviceId: number; udid: string }): Promise<LockdownSession> {
    const pairRecord = await readPairRecord(openSocket, source, device.udid);
    const port = ((LOCKDOWN_PORT & 0xff) << 8) | (LOCKDOWN_PORT >> 8); // network byte order
    const { reply, socket } = await usbmux(openSocket, source, { MessageType: 'Connect', DeviceID: device.deviceId, PortNumber: port });
    if (reply.Number !== 0) {
      socket.destroy();
      throw new CodedError('DEVICE_GONE', catalogText('device-fleet.errors.usb-gone', { udid: device.udid, result: String(reply.Number) }));
    }
    const channel = new LockdownChannel(socket);
    const started = await channel.request({ Request: 'StartSession', HostID: pairRecord.HostID, SystemBUID: pairRecord.SystemBUID });
    if (started.Error) {
      socket.destroy();
      throw new CodedError(
        started.Error === 'InvalidHostID' ? 'NOT_PAIRED' : 'LOCKDOWN_ERROR',
        catalogText('device-fleet.errors.lockdown-refused', { reason: String(started.Error) }),
      );
    }
    if (started.EnableSessionSSL) {
      // The device presents its own certificate, made at pairing; the pair record pins it.
      const tls = tlsConnect({
        socket,
        cert: pairRecord.HostCertificate,
        key: pairRecord.HostPrivateKey,
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
      });
      await new Promise<void>((resolve, reject) => tls.once('secureConnect', resolve).once('error', reject));
      const presented = tls.getPeerX509Certificate();
      if (!presented || !presented.raw.equals(pemToDer(pairRecord.DeviceCertificate))) {
        tls.destroy();
        throw new CodedError('NOT_PAIRED', catalogText('device-fleet.errors.foreign-certificate', { udid: device.udid }));
      }
      channel.switchTo(tls);
      return new LockdownSession(channel, tls);
    }
    return new LockdownSession(channel, socket);
  }

  async getValue(key: string, domain?: string): Promise<unknown> {
    const reply = await this.channel.request({ Request: 'GetValue', Key: key, ...(domain && { Domain: domain }) });
    if (reply.Error) throw new CodedError('LOCKDOWN_ERROR', catalogText('device-fleet.errors.lockdown-get', { key, reason: String(reply.Error) }));
    return reply.Value;
  }

  async setValue(key: string, value: string, domain?: string): Promise<void> {
    const reply = await this.channel.request({ Request: 'SetValue', Key: key, Value: value, ...(domain && { Domain: domain }) });
    if (reply.Error)
      throw new CodedError(
        'LOCKDOWN_ERROR',
        catalogText('device-fleet.errors.lockdown-set', { key: domain ? `${domain} ${key}` : key, reason: String(reply.Error) }),
      );
  }

  close(): void {
    this.socket.destroy();
  }
}

function pemToDer(pem: Buffer): Buffer {
  const base64 = pem
    .toString('utf8')
    .replace(/-----[^-]+-----/g, '')
    .replace(/\s+/g, '');
  return Buffer.from(base64, 'base64');
}
