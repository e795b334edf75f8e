import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubConnection } from '../nodes/lib/hub/hub-connection';
import { openSerialLink } from '../nodes/lib/hub/serial-link';
import type { ByteLink } from '../nodes/lib/hub/byte-link';
import { median, sleep } from './stats';
import { startChildCart } from './pty-cart';

export interface PollingCostResult {
  hubs: number;
  rounds: number;
  /** CPU seconds per minute of this process while polling, median over rounds. */
  ours: number;
  /** The same for a bare loop that only writes `state` and waits for the prompt. */
  baseline: number;
}

/** CPU seconds per minute this process spends while `work` runs for `seconds`. */
async function cpuPerMinute(seconds: number, start: () => Promise<() => Promise<void>>): Promise<number> {
  const stop = await start();
  await sleep(2000); // connected and settled
  const before = process.cpuUsage();
  await sleep(seconds * 1000);
  const used = process.cpuUsage(before);
  await stop();
  return ((used.user + used.system) / 1e6) * (60 / seconds);
}

/** The least a poller can do: send `state` once a second per hub and wait for the prompt. */
async function barePolling(paths: string[]): Promise<() => Promise<void>> {
  let running = true;
  const links: ByteLink[] = await Promise.all(paths.map((p) => openSerialLink(p, 115200)));
  const loops = links.map(async (link) => {
    while (running) {
      const started = Date.now();
      await new Promise<void>((resolve) => {
        let reply = '';
        const onData = (chunk: Buffer) => {
          reply += chunk.toString('latin1');
          if (reply.endsWith('>> ')) {
            link.off('data', onData);
            resolve();
          }
        };
        link.on('data', onData);
        link.write('state\r\n');
      });
      await sleep(1000 - (Date.now() - started));
    }
  });
  return async () => {
    running = false;
    await Promise.all(loops);
    await Promise.all(links.map((l) => l.close()));
  };
}

async function ourPolling(paths: string[]): Promise<() => Promise<void>> {
  const connections = paths.map((path) => new HubConnection({ path, baudRate: 115200, pollInterval: 1000, model: 'auto', openLink: openSerialLink }));
  connections.forEach((c) => c.start());
  return async () => {
    await Promise.all(connections.map((c) => c.close()));
  };
}

export async function measurePollingCost(hubs: number, rounds: number, seconds: number): Promise<PollingCostResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cart-'));
  const cart = await startChildCart(dir, hubs, 16, 'odd');
  const { paths } = cart;
  try {
    const ours: number[] = [];
    const baseline: number[] = [];
    for (let round = 0; round < rounds; round++) {
      baseline.push(await cpuPerMinute(seconds, () => barePolling(paths)));
      ours.push(await cpuPerMinute(seconds, () => ourPolling(paths)));
    }
    return { hubs, rounds, ours: median(ours), baseline: median(baseline) };
  } finally {
    await cart.stop();
  }
}

export function formatPollingCost(r: PollingCostResult): string {
  const percent = (r.ours / 60) * 100;
  return `${r.hubs} hubs x 16 ports polled every 1 s: ${r.ours.toFixed(3)} CPU s/min (${percent.toFixed(2)}% of one core, target under 2%: ${percent < 2 ? 'met' : 'MISSED'}); bare state loop ${r.baseline.toFixed(3)} CPU s/min; ratio ${(r.ours / r.baseline).toFixed(2)} (median of ${r.rounds} rounds)`;
}
