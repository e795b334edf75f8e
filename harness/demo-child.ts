import assert from 'node:assert/strict';
import { startChild, type Child } from './node-red-child';
import { tempDir } from './support';
import { builtFile } from '../nodes/lib/package-root';

/** `npm start`'s program in its own process, on free loopback ports. */
export interface DemoChild extends Child<string> {
  url: string;
}

/** `userDir`: where the demo keeps its flows (a fresh one by default); `args`: e.g. `--fresh`. */
export async function startDemoChild(userDir = tempDir('demo'), args: string[] = []): Promise<DemoChild> {
  const demo = await startChild(
    builtFile('demo', 'start-demo.js'),
    args,
    { PORT: '0', DEMO_USERDIR: userDir },
    (output) => /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1],
  );
  return { ...demo, url: demo.ready };
}

/** What the demo's control page reads: phones and their fleet status, ports and their LEDs. */
export type CartState = {
  phones: {
    udid: string;
    serial: string;
    name: string;
    status: string;
    user?: string;
    docked: boolean;
    wallpaper: boolean;
    erasures: number;
    returnedToService: number;
    usbWrites: number;
  }[];
  hubs: { name: string; ports: { port: number; led: string; docked: boolean; phone?: string }[] }[];
  audit: { udid: string; what: string; to?: string }[];
};

export async function cartState(url: string): Promise<CartState> {
  return (await (await fetch(`${url}sim/state`)).json()) as CartState;
}

/** Polls the cart until `check` holds, or fails with `what` after `ms`. */
export async function untilCart(url: string, what: string, check: (state: CartState) => boolean, ms = 40_000): Promise<CartState> {
  const deadline = Date.now() + ms;
  for (;;) {
    const state = await cartState(url);
    if (check(state)) return state;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Presses the Hands-free Prep tab's button (the inject node, as the editor does) for the Checked
 * In phone at Cart A port 1, and follows it: Prepping while erased with Return to Service, back
 * by itself, named and Checked In, nothing written over USB.
 */
export async function pressHandsFreePrep(url: string): Promise<void> {
  const before = await cartState(url);
  const udid = before.hubs.find((h) => h.name === 'Cart A')!.ports[0].phone!;
  const was = before.phones.find((p) => p.udid === udid)!;
  assert.equal(was.status, 'Checked In');
  const pressed = await fetch(`${url}inject/dc-rts-button`, { method: 'POST' });
  assert.equal(pressed.status, 200, await pressed.clone().text());
  const phoneIn = (state: CartState) => state.phones.find((p) => p.udid === udid)!;
  // Nobody's to take from the erase until it is checked in again.
  await untilCart(url, 'Prepping while it is erased', (s) => phoneIn(s).status === 'Prepping');
  await untilCart(url, 'erased', (s) => phoneIn(s).erasures > was.erasures);
  const phone = phoneIn(await untilCart(url, 'back by itself and Checked In', (s) => phoneIn(s).returnedToService === 1 && phoneIn(s).status === 'Checked In'));
  assert.deepEqual(
    [phone.erasures, phone.usbWrites, phone.name],
    [was.erasures + 1, was.usbWrites, 'Cart A 1'],
    'erased once, nothing over USB, named by the MDM',
  );
}
