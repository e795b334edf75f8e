import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { asOwnMachine } from './own-machine';
import { SimulatedBadgeServer } from '../sim/badge-server';
import { SimulatedNanoMdm } from '../sim/nanomdm-server';
import { SimulatedDevice } from '../sim/simulated-device';
import { SimulatedWorkspaceOne } from '../sim/workspace-one-server';
import { INTUNE, startIntune } from '../harness/mdm-vendors';

export type BenchVendor = 'nanomdm' | 'workspace-one' | 'intune';

/** The benches' MDM secrets, by vendor. */
export const BENCH_SECRETS = {
  nanomdm: { apiKey: 'bench-key', webhookSecret: 'bench-webhook-key' },
  'workspace-one': { clientId: 'bench-client', clientSecret: 'bench-secret', tenantCode: 'bench-tenant' },
  intune: { clientId: INTUNE.clientId, clientSecret: INTUNE.clientSecret },
};

/** How often the nodes read a command's state back from MDMs that are asked (the shortest the mdm-server node takes), ms. */
export const BENCH_POLL_MS = 100;

/** A vendor's simulator on loopback, its phones acknowledging at once; what an mdm-server node needs to reach it; how to enrol a phone. */
async function startVendor(
  vendor: BenchVendor,
  latency: number,
  lockerApp: string,
): Promise<{ server: Record<string, string>; enrol(phone: SimulatedDevice): Promise<void>; webhook(url: string): void; stop(): Promise<void> }> {
  if (vendor === 'workspace-one') {
    const sim = new SimulatedWorkspaceOne({ ...BENCH_SECRETS[vendor], checkinDelay: 0 });
    sim.latency = latency;
    await sim.start();
    const server = { vendor, url: sim.url, tokenUrl: sim.tokenUrl, pollInterval: String(BENCH_POLL_MS) };
    return { server, enrol: async (phone) => sim.enrol(phone), webhook: () => undefined, stop: () => sim.stop() };
  }
  if (vendor === 'intune') {
    const sim = await startIntune(lockerApp, { checkinDelay: 0, writeLimit: { requests: 1_000_000, seconds: 1 } });
    sim.latency = latency;
    const { tenantId, checkedOutGroup, lockedGroup } = INTUNE;
    const server = { vendor, url: sim.url, tokenUrl: sim.url, tenantId, checkedOutGroup, lockedGroup, pollInterval: String(BENCH_POLL_MS) };
    return { server, enrol: async (phone) => sim.enrol(phone), webhook: () => undefined, stop: () => sim.stop() };
  }
  const mdm = new SimulatedNanoMdm({ ...BENCH_SECRETS.nanomdm, checkinDelay: 0 });
  mdm.latency = latency;
  await mdm.start();
  return { server: { vendor, url: mdm.url }, enrol: (phone) => mdm.enrol(phone), webhook: (url) => (mdm.webhookUrl = url), stop: () => mdm.stop() };
}

/**
 * A simulated MDM with its phones, and the badge lookup, in their own process, as they are other
 * machines: their parsing, garbage and timers never share the heap or the event loop of the
 * Node-RED being measured. Usage: mdm-child <vendor> <latencyMs> <badge=user:name> <lockerApp>;
 * prints `{server, badges}` (the mdm-server node's fields, the lookup's URL), then answers lines
 * on stdin: `webhook <url>` (prints `ok`) and `enrol` (a new phone; prints its UDID).
 */
async function main(): Promise<void> {
  const [vendor, latency, badge, lockerApp] = process.argv.slice(2);
  const mdm = await startVendor(vendor as BenchVendor, Number(latency), lockerApp);
  const [id, user, name] = badge.split(/[=:]/);
  const badges = new SimulatedBadgeServer(new Map([[id, { user, name }]]));
  await badges.start();
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [verb, arg] = line.split(' ');
    if (verb === 'webhook') {
      mdm.webhook(arg);
      console.log('ok');
    }
    if (verb === 'enrol') {
      const phone = new SimulatedDevice();
      void mdm.enrol(phone).then(() => console.log(phone.udid));
    }
  });
  process.once('SIGTERM', () => void Promise.all([mdm.stop(), badges.stop()]).then(() => process.exit(0)));
  console.log(JSON.stringify({ server: mdm.server, badges: badges.url }));
}

/** The MDM and badge lookup in a child process. */
export interface ChildMdm {
  vendor: BenchVendor;
  url: string;
  /** The mdm-server node's fields (vendor, url, ...) and credentials for it. */
  server: Record<string, string>;
  credentials: Record<string, string>;
  badgeUrl: string;
  /** Where the MDM posts its webhooks. */
  setWebhook(url: string): Promise<void>;
  /** Enrols a new phone; its UDID. */
  enrol(): Promise<string>;
  stop(): Promise<void>;
}

export async function startChildMdm(options: { vendor: BenchVendor; latency: number; badge: string; lockerApp: string }): Promise<ChildMdm> {
  const { vendor, latency, badge, lockerApp } = options;
  const child = asOwnMachine(spawn(process.execPath, [__filename, vendor, String(latency), badge, lockerApp], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const nextLine = async (): Promise<string> => {
    const { value, done } = await lines.next();
    if (done) throw new Error('the MDM child exited');
    return value;
  };
  // One request at a time: each answer is the next line.
  let turn = Promise.resolve('');
  const ask = (line: string): Promise<string> => {
    turn = turn.then(() => {
      child.stdin.write(`${line}\n`);
      return nextLine();
    });
    return turn;
  };
  const started = JSON.parse(await nextLine()) as { server: Record<string, string>; badges: string };
  return {
    vendor,
    url: started.server.url,
    server: started.server,
    credentials: BENCH_SECRETS[vendor],
    badgeUrl: started.badges,
    setWebhook: async (url) => void (await ask(`webhook ${url}`)),
    enrol: () => ask('enrol'),
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

if (require.main === module) void main();
