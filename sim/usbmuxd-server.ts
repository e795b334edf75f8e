import { existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { X509Certificate } from 'node:crypto';
import { TLSSocket } from 'node:tls';
import { parsePlist, toPlist } from '../nodes/lib/mdm/commands';
import { encodeFrame, FrameReader } from '../nodes/lib/usb/usbmux-frames';
import type { Pairing } from './pairing';
import { SimulatedDevice } from './simulated-device';

interface Attached {
  deviceId: number;
  udid: string;
  locationId: number;
  connectionType: 'USB' | 'Network';
  phone: SimulatedDevice;
}

const LOCKDOWN_PORT_NETWORK_ORDER = ((62078 & 0xff) << 8) | (62078 >> 8);

/**
 * usbmuxd on a UNIX socket with its framing: ListDevices, Listen (Attached for what is
 * there, then Attached / Detached as phones come and go). Stopping it closes every client,
 * as a usbmuxd restart does.
 */
export class SimulatedUsbmuxd {
  private server?: Server;
  private readonly listeners = new Set<Socket>();
  private readonly clients = new Set<Socket>();
  private readonly devices = new Map<string, Attached>();
  private readonly pairings = new Map<string, Pairing>();
  private nextDeviceId = 1;

  constructor(readonly socketPath: string) {}

  /** Listen requests served since the start: each client that sent one hears every attach and detach. */
  listens = 0;

  async start(): Promise<void> {
    if (existsSync(this.socketPath)) unlinkSync(this.socketPath);
    this.server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve) => this.server!.listen(this.socketPath, resolve));
  }

  async stop(): Promise<void> {
    for (const socket of this.clients) socket.destroy();
    this.clients.clear();
    this.listeners.clear();
    if (this.server) await new Promise((resolve) => this.server!.close(resolve));
    this.server = undefined;
  }

  get running(): boolean {
    return Boolean(this.server);
  }

  /** The host trusts the phone (the user tapped Trust): a pair record exists from now on. */
  pair(udid: string): void {
    // Loaded here, not at the top: certificates need node-forge, a development dependency, and
    // the package loads this simulator for `sim:` sources even where nobody pairs.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, as said above
    const { pair } = require('./pairing') as typeof import('./pairing');
    if (!this.pairings.has(udid)) this.pairings.set(udid, pair(udid));
  }

  /** A phone appears on USB at `locationId`; its lockdownd answers for `phone`. */
  attach(phoneOrUdid: SimulatedDevice | string, locationId: number, connectionType: Attached['connectionType'] = 'USB'): void {
    const phone = typeof phoneOrUdid === 'string' ? new SimulatedDevice({ udid: phoneOrUdid }) : phoneOrUdid;
    const udid = phone.udid;
    const device = { deviceId: this.nextDeviceId++, udid, locationId, connectionType, phone };
    this.devices.set(udid, device);
    for (const socket of this.listeners) socket.write(encodeFrame({ MessageType: 'Attached', DeviceID: device.deviceId, Properties: properties(device) }, 0));
  }

  detach(udid: string): void {
    const device = this.devices.get(udid);
    if (!device) return;
    this.devices.delete(udid);
    for (const socket of this.listeners) socket.write(encodeFrame({ MessageType: 'Detached', DeviceID: device.deviceId }, 0));
  }

  /** lockdownd: StartSession, TLS with the paired certificates, GetValue / SetValue on the phone. */
  private lockdown(socket: Socket, device: Attached, pairing: Pairing | undefined): void {
    const phone = device.phone;
    let stream: Duplex = socket;
    let buffered = Buffer.alloc(0);
    const send = (message: object): void => {
      const body = Buffer.from(toPlist(message));
      const length = Buffer.alloc(4);
      length.writeUInt32BE(body.length);
      stream.write(Buffer.concat([length, body]));
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
        const length = buffered.readUInt32BE(0);
        const request = parsePlist(buffered.subarray(4, 4 + length)) as Record<string, unknown>;
        buffered = buffered.subarray(4 + length);
        if (request.Request === 'StartSession') {
          if (!pairing || request.HostID !== pairing.record.HostID) return send({ Request: 'StartSession', Error: 'InvalidHostID' });
          send({ Request: 'StartSession', SessionID: 'SIM-SESSION', EnableSessionSSL: true });
          socket.removeListener('data', onData);
          const tls = new TLSSocket(socket, {
            isServer: true,
            key: pairing.deviceKey,
            cert: pairing.record.DeviceCertificate,
            requestCert: true,
            rejectUnauthorized: false,
          });
          tls.on('error', () => socket.destroy());
          // Only the host that paired gets in: its certificate must be the one in the record.
          tls.once('secure', () => {
            const host = tls.getPeerX509Certificate();
            if (!host || host.toString() !== new X509Certificate(pairing.record.HostCertificate).toString()) tls.destroy();
          });
          tls.on('data', onData);
          stream = tls;
        } else if (request.Request === 'GetValue') {
          const value = phone.lockdownValue(request.Key as string, request.Domain as string | undefined);
          send(value === undefined ? { Request: 'GetValue', Error: 'MissingValue' } : { Request: 'GetValue', Key: request.Key, Value: value });
        } else if (request.Request === 'SetValue') {
          if (stream === socket) return send({ Request: 'SetValue', Error: 'SessionInactive' });
          phone.setLockdownValue(request.Key as string, request.Value as string, request.Domain as string | undefined);
          send({ Request: 'SetValue' });
        } else send({ Request: request.Request, Error: 'InvalidRequest' });
      }
    };
    socket.on('data', onData);
  }

  private serve(socket: Socket): void {
    this.clients.add(socket);
    const reader = new FrameReader();
    socket.on('close', () => {
      this.clients.delete(socket);
      this.listeners.delete(socket);
    });
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const { tag, message } of frames) {
        if (message.MessageType === 'ListDevices') {
          socket.write(
            encodeFrame(
              { DeviceList: [...this.devices.values()].map((d) => ({ DeviceID: d.deviceId, MessageType: 'Attached', Properties: properties(d) })) },
              tag,
            ),
          );
        } else if (message.MessageType === 'ReadPairRecord') {
          const pairing = this.pairings.get(String(message.PairRecordID));
          socket.write(encodeFrame(pairing ? { PairRecordData: Buffer.from(toPlist(pairing.record)) } : { MessageType: 'Result', Number: 2 }, tag));
        } else if (message.MessageType === 'Connect') {
          const device = [...this.devices.values()].find((d) => d.deviceId === message.DeviceID);
          const ok = device && message.PortNumber === LOCKDOWN_PORT_NETWORK_ORDER;
          socket.write(encodeFrame({ MessageType: 'Result', Number: !device ? 2 : ok ? 0 : 3 }, tag));
          if (!ok) return;
          // From here the socket is a tunnel to the device's lockdownd.
          socket.removeAllListeners('data');
          this.lockdown(socket, device, this.pairings.get(device.udid));
          return;
        } else if (message.MessageType === 'Listen') {
          socket.write(encodeFrame({ MessageType: 'Result', Number: 0 }, tag));
          this.listeners.add(socket);
          this.listens++;
          for (const d of this.devices.values()) socket.write(encodeFrame({ MessageType: 'Attached', DeviceID: d.deviceId, Properties: properties(d) }, 0));
        } else {
          socket.write(encodeFrame({ MessageType: 'Result', Number: 1 }, tag));
        }
      }
    });
  }
}

function properties(d: Attached): Record<string, unknown> {
  return {
    DeviceID: d.deviceId,
    SerialNumber: d.udid,
    ProductID: 4776,
    ConnectionType: d.connectionType,
    LocationID: d.locationId,
    ConnectionSpeed: 480000000,
  };
}

/** Simulated usbmuxds by name, for `sim:<name>` USB sources, each on its own socket. */
const daemons = new Map<string, SimulatedUsbmuxd>();

export async function simulatedUsbmuxd(name: string): Promise<SimulatedUsbmuxd> {
  let daemon = daemons.get(name);
  if (!daemon) {
    daemon = new SimulatedUsbmuxd(join(tmpdir(), `device-checkout-usbmuxd-${process.pid}-${name.replace(/[^\w-]/g, '_')}.sock`));
    daemons.set(name, daemon);
  }
  if (!daemon.running) await daemon.start();
  return daemon;
}
