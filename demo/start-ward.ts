import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

// `npm run start:ward`: two carts of one ward, each its own Node-RED (as each cart is its own
// host) with its simulated hubs, usbmuxd, MDM and phones, sharing one fleet on the PostgreSQL
// named by DATABASE_URL. Cart A on PORT (1880), cart B ten ports up; PORT=0 takes free ones.
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error(
    'start:ward needs a PostgreSQL database for the carts to share, e.g.\n  DATABASE_URL=postgres://user@localhost:5432/devices npm run start:ward\n(the carts create their tables there on first start)',
  );
  process.exit(2);
}
const base = Number(process.env.PORT ?? 1880);
// Where the carts keep their folders (their flows survive a restart; --fresh starts over).
const home = process.env.DEMO_WARD_DIR || join(__dirname, '..', '..');
const carts = [
  { cart: 'ward-a', port: base },
  { cart: 'ward-b', port: base === 0 ? 0 : base + 10 },
];
const children: ChildProcess[] = carts.map(({ cart, port }) => {
  const child = spawn(process.execPath, [join(__dirname, 'start-demo.js'), ...process.argv.slice(2)], {
    env: { ...process.env, PORT: String(port), DEMO_CART: cart, DATABASE_URL: databaseUrl, DEMO_USERDIR: join(home, `.demo-${cart}`) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (chunk: Buffer) => chunk.toString().replace(/^(?=.)/gm, `[${cart}] `);
  child.stdout!.on('data', (chunk: Buffer) => process.stdout.write(prefix(chunk)));
  child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(prefix(chunk)));
  // One cart down means the ward demo is not what it says: stop the other too.
  child.once('exit', (code) => {
    if (!stopping) stop(code ?? 1);
  });
  return child;
});

let stopping = false;
function stop(code = 0): void {
  stopping = true;
  const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
  if (running.length === 0) process.exit(code);
  let left = running.length;
  for (const child of running) {
    child.once('exit', () => --left === 0 && process.exit(code));
    child.kill('SIGTERM');
  }
}
process.once('SIGINT', () => stop());
process.once('SIGTERM', () => stop());
