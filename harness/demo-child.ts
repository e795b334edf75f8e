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
  phones: { udid: string; serial: string; name: string; status: string; user?: string; docked: boolean; wallpaper: boolean }[];
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
