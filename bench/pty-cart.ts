import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { asOwnMachine } from './own-machine';
import { PtyHub } from '../sim/pty-hub';

/**
 * Simulated hubs on ptys in their own process, as real hubs are their own machines: their
 * replies' timing and CPU time never share the event loop of the Node-RED being measured.
 * Usage: pty-cart <dir> <hubs> <ports> <odd|empty>; prints the paths as JSON, then takes
 * `dock <hub> <port>` and `unplug <hub> <port>` lines on stdin until SIGTERM.
 */
async function main(): Promise<void> {
  const [dir, count, ports, docked] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), process.argv[5]];
  const hubs: PtyHub[] = [];
  for (let i = 0; i < count; i++) {
    const hub = await PtyHub.start(join(dir, `ttyHUB${i}`), { ports });
    if (docked === 'odd') for (let port = 1; port <= ports; port += 2) hub.hub.dock(port);
    hubs.push(hub);
  }
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [verb, hub, port] = line.split(' ');
    if (verb === 'dock') hubs[Number(hub)].hub.dock(Number(port));
    if (verb === 'unplug') hubs[Number(hub)].hub.unplug(Number(port));
  });
  process.once('SIGTERM', () => void Promise.all(hubs.map((h) => h.stop())).then(() => process.exit(0)));
  console.log(JSON.stringify(hubs.map((h) => h.hostPath)));
}

/** A cart in a child process: its hubs' host paths, a way to dock and unplug, and stop. */
export interface ChildCart {
  paths: string[];
  dock(hub: number, port: number): void;
  stop(): Promise<void>;
}

export async function startChildCart(dir: string, hubs: number, ports: number, docked: 'odd' | 'empty'): Promise<ChildCart> {
  const child: ChildProcess = asOwnMachine(
    spawn(process.execPath, [__filename, dir, String(hubs), String(ports), docked], { stdio: ['pipe', 'pipe', 'inherit'] }),
  );
  const paths = await new Promise<string[]>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString()) as string[]));
    child.once('exit', (code) => reject(new Error(`pty cart exited with ${code}`)));
  });
  return {
    paths,
    dock: (hub, port) => child.stdin!.write(`dock ${hub} ${port}\n`),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

if (require.main === module) void main();
