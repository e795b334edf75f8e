import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './support';

/** `npm start`'s program in its own process, on free loopback ports. */
export interface DemoChild {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startDemoChild(): Promise<DemoChild> {
  const demo = spawn(process.execPath, [join(__dirname, '..', 'flows', 'start-demo.js')], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  demo.stdout!.on('data', (chunk: Buffer) => (output += chunk));
  demo.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise((resolve) => demo.once('exit', resolve));
  const url = await waitFor('the demo URL', () => /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1], 30000);
  return {
    url,
    output: () => output,
    async stop() {
      if (demo.exitCode !== null || demo.signalCode !== null) return;
      demo.kill('SIGTERM');
      await exited;
    },
  };
}

/** What the demo's control page reads: phones and their fleet status, ports and their LEDs. */
export type CartState = {
  phones: { udid: string; serial: string; status: string; user?: string; docked: boolean; wallpaper: boolean }[];
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
