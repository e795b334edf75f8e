import { helper } from './node-red';
import { waitFor } from './support';
import type { PtyHub } from '../sim/pty-hub';
import type { SimulatedCart } from '../sim/simulated-cart';
import type { SimulatedUsbmuxd } from '../sim/usbmuxd-server';

/** The simulated cart a flow runs on: its hub behind a pty, usbmuxd, and what ties them. */
export interface CartParts {
  pty: PtyHub;
  usb: SimulatedUsbmuxd;
  cart: SimulatedCart;
}

/**
 * Call before a flow starts; what it returns resolves once that flow has read the hub and
 * listens to usbmuxd: a dock from then on is seen and identified.
 */
export function cartWatched({ pty, usb }: CartParts): () => Promise<unknown> {
  const commands = pty.hub.commands.length;
  const listens = usb.listens;
  return () => waitFor('hub read and usbmuxd listened to', () => pty.hub.commands.slice(commands).some((c) => c.trim() === 'state') && usb.listens > listens);
}

/** Stops the flow, then the cart under it. */
export async function stopCartAndFlow({ pty, usb, cart }: CartParts): Promise<void> {
  cart.stop();
  await helper.unload();
  await pty.stop();
  await usb.stop();
  helper.settings({});
}
