import { join } from 'node:path';
import { PtyHub } from '../sim/pty-hub';

/**
 * A cart of simulated 16-port hubs on ptys, in its own process so its CPU time is not
 * counted against the poller being measured. Usage: pty-cart <dir> <hubs>; prints the
 * paths as JSON, then runs until SIGTERM.
 */
async function main(): Promise<void> {
  const [dir, count] = [process.argv[2], Number(process.argv[3])];
  const hubs: PtyHub[] = [];
  for (let i = 0; i < count; i++) {
    const hub = await PtyHub.start(join(dir, `ttyHUB${i}`), { ports: 16 });
    for (let port = 1; port <= 16; port += 2) hub.hub.dock(port);
    hubs.push(hub);
  }
  process.once('SIGTERM', () => void Promise.all(hubs.map((h) => h.stop())).then(() => process.exit(0)));
  console.log(JSON.stringify(hubs.map((h) => h.hostPath)));
}

void main();
