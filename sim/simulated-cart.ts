import type { SimulatedDevice } from './simulated-device';
import type { SimulatedHub } from './simulated-hub';
import type { SimulatedUsbmuxd } from './usbmuxd-server';
import { Timers } from './timers';

/** The USB location a port has on this cart's host: hub number and port in the path bits. */
export const locationOf = (hubIndex: number, port: number): number => 0x14000000 | ((hubIndex + 1) << 16) | (port << 8);

/**
 * A cart: hubs and the host's usbmuxd, tied together as the hardware is. Docking a phone on a
 * port makes the hub report it at once and usbmuxd shortly after, with that port's location.
 */
export class SimulatedCart {
  /** Which phone (UDID) sits on which hub port. */
  private readonly slots = new Map<string, string>();
  private readonly timers = new Timers();

  constructor(
    readonly hubs: SimulatedHub[],
    readonly usb: SimulatedUsbmuxd,
    /** How long after the hub sees a dock usbmuxd reports the phone, ms. */
    public usbDelay = 200,
  ) {}

  dock(phone: SimulatedDevice | string, hubIndex: number, port: number): void {
    const udid = typeof phone === 'string' ? phone : phone.udid;
    this.slots.set(`${hubIndex}:${port}`, udid);
    this.hubs[hubIndex].dock(port);
    this.timers.later(this.usbDelay, () => {
      if (this.slots.get(`${hubIndex}:${port}`) === udid) this.usb.attach(phone, locationOf(hubIndex, port));
    });
  }

  unplug(hubIndex: number, port: number): void {
    const udid = this.slots.get(`${hubIndex}:${port}`);
    this.slots.delete(`${hubIndex}:${port}`);
    this.hubs[hubIndex].unplug(port);
    if (udid) this.usb.detach(udid);
  }

  /** Where a phone is docked, if it is. */
  whereIs(udid: string): { hub: number; port: number } | undefined {
    const slot = [...this.slots].find(([, docked]) => docked === udid)?.[0];
    if (!slot) return undefined;
    const [hub, port] = slot.split(':').map(Number);
    return { hub, port };
  }

  /** The first port without a phone, hub by hub. */
  freePort(): { hub: number; port: number } | undefined {
    for (const [hub, sim] of this.hubs.entries()) {
      for (let port = 1; port <= sim.portCount; port++) if (!sim.isDocked(port)) return { hub, port };
    }
    return undefined;
  }

  stop(): void {
    this.timers.clear();
  }
}
