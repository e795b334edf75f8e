import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { HubConnection, type PortEvent } from '../nodes/lib/hub/hub-connection';
import { HubCli } from '../nodes/lib/hub/hub-cli';
import { openSerialLink } from '../nodes/lib/hub/serial-link';
import { PtyHub } from '../sim/pty-hub';
import { median, ms, percentile, sleep } from './stats';

export interface LatencyResult {
  pollInterval: number;
  samples: number;
  p50: number;
  p99: number;
  /** Median time of one `state` reply (16 ports at 115200 baud) over the same pty. */
  replyTime: number;
  /** What no poller at this interval can beat on average: half an interval plus one reply. */
  floor: number;
  /** The bound for p99: pollInterval + 2 x reply time + 20 ms. */
  target: number;
}

/**
 * Dock-to-event latency through the real serialport binding and a socat pty, docks placed
 * at random moments of the poll cycle.
 */
export async function measureLatency(pollInterval: number, samples: number): Promise<LatencyResult> {
  const path = join(mkdtempSync(join(tmpdir(), 'bench-latency-')), 'ttyHUB');
  const pty = await PtyHub.start(path, { ports: 16 });
  try {
    const replyTime = await stateReplyTime(path, 40);
    const connection = new HubConnection({ path, baudRate: 115200, pollInterval, model: 'auto', openLink: openSerialLink });
    const connected = new Promise<void>((resolve) => connection.on('status', (s) => s.status === 'connected' && resolve()));
    connection.start();
    await connected;
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      const port = 1 + (i % 16);
      await sleep(Math.random() * pollInterval);
      const event = new Promise<void>((resolve) => {
        const done = (e: PortEvent) => {
          if (e.port !== port) return;
          latencies.push(performance.now() - started);
          connection.off('dock', done).off('unplug', done);
          resolve();
        };
        connection.on('dock', done).on('unplug', done);
      });
      const started = performance.now();
      if (pty.hub.isDocked(port)) pty.hub.unplug(port);
      else pty.hub.dock(port);
      await event;
    }
    await connection.close();
    return {
      pollInterval,
      samples,
      p50: median(latencies),
      p99: percentile(latencies, 99),
      replyTime,
      floor: pollInterval / 2 + replyTime,
      target: pollInterval + 2 * replyTime + 20,
    };
  } finally {
    await pty.stop();
  }
}

/** The median round trip of `state` on a 16-port hub, from command to prompt. */
async function stateReplyTime(path: string, count: number): Promise<number> {
  const link = await openSerialLink(path, 115200);
  const cli = new HubCli(link, 1000);
  await cli.command('crf');
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await cli.command('state');
    times.push(performance.now() - started);
  }
  await link.close();
  return median(times);
}

export function formatLatency(r: LatencyResult): string {
  const verdict = r.p99 <= r.target ? 'within target' : 'OVER TARGET';
  return `poll ${r.pollInterval} ms, ${r.samples} docks/unplugs: p50 ${ms(r.p50)} (floor ${ms(r.floor)}, p50/floor ${(r.p50 / r.floor).toFixed(2)}), p99 ${ms(r.p99)} (target ${ms(r.target)}: ${verdict}); one state reply ${ms(r.replyTime)}`;
}
