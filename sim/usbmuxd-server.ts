import { existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame, FrameReader } from '../nodes/lib/usb/usbmux-frames';

interface Attached {
  deviceId: number;
  udid: string;
  locationId: number;
  connectionType: 'USB' | 'Network';
}

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
  private nextDeviceId = 1;

  constructor(readonly socketPath: string) {}

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

  /** A phone appears on USB at `locationId`. */
  attach(udid: string, locationId: number, connectionType: Attached['connectionType'] = 'USB'): void {
    const device = { deviceId: this.nextDeviceId++, udid, locationId, connectionType };
    this.devices.set(udid, device);
    for (const socket of this.listeners) socket.write(encodeFrame({ MessageType: 'Attached', DeviceID: device.deviceId, Properties: properties(device) }, 0));
  }

  detach(udid: string): void {
    const device = this.devices.get(udid);
    if (!device) return;
    this.devices.delete(udid);
    for (const socket of this.listeners) socket.write(encodeFrame({ MessageType: 'Detached', DeviceID: device.deviceId }, 0));
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
          socket.write(encodeFrame({ DeviceList: [...this.devices.values()].map((d) => ({ DeviceID: d.deviceId, MessageType: 'Attached', Properties: properties(d) })) }, tag));
        } else if (message.MessageType === 'Listen') {
          socket.write(encodeFrame({ MessageType: 'Result', Number: 0 }, tag));
          this.listeners.add(socket);
          for (const d of this.devices.values()) socket.write(encodeFrame({ MessageType: 'Attached', DeviceID: d.deviceId, Properties: properties(d) }, 0));
        } else {
          socket.write(encodeFrame({ MessageType: 'Result', Number: 1 }, tag));
        }
      }
    });
  }
}

function properties(d: Attached): Record<string, unknown> {
  return { DeviceID: d.deviceId, SerialNumber: d.udid, ProductID: 4776, ConnectionType: d.connectionType, LocationID: d.locationId, ConnectionSpeed: 480000000 };
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
