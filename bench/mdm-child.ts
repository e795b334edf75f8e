import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { asOwnMachine } from './own-machine';
import { SimulatedBadgeServer } from '../sim/badge-server';
import { SimulatedNanoMdm } from '../sim/nanomdm-server';
import { SimulatedDevice } from '../sim/simulated-device';

/**
 * The simulated NanoMDM with its phones, and the badge lookup, in their own process, as they
 * are other machines: their parsing, garbage and timers never share the heap or the event loop
 * of the Node-RED being measured. Usage: mdm-child <apiKey> <webhookSecret> <latencyMs>
 * <badge=user:name>; prints `{mdm, badges}` (URLs), then answers lines on stdin:
 * `webhook <url>` (prints `ok`) and `enrol` (a new phone; prints its UDID).
 */
async function main(): Promise<void> {
  const [apiKey, webhookSecret, latency, badge] = process.argv.slice(2);
  const mdm = new SimulatedNanoMdm({ apiKey, webhookSecret, checkinDelay: 0 });
  mdm.latency = Number(latency);
  await mdm.start();
  const [id, user, name] = badge.split(/[=:]/);
  const badges = new SimulatedBadgeServer(new Map([[id, { user, name }]]));
  await badges.start();
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [verb, arg] = line.split(' ');
    if (verb === 'webhook') {
      mdm.webhookUrl = arg;
      console.log('ok');
    }
    if (verb === 'enrol') {
      const phone = new SimulatedDevice();
      void mdm.enrol(phone).then(() => console.log(phone.udid));
    }
  });
  process.once('SIGTERM', () => void Promise.all([mdm.stop(), badges.stop()]).then(() => process.exit(0)));
  console.log(JSON.stringify({ mdm: mdm.url, badges: badges.url }));
}

/** The MDM and badge lookup in a child process. */
export interface ChildMdm {
  url: string;
  badgeUrl: string;
  /** Where the MDM posts its webhooks. */
  setWebhook(url: string): Promise<void>;
  /** Enrols a new phone; its UDID. */
  enrol(): Promise<string>;
  stop(): Promise<void>;
}

export async function startChildMdm(options: { apiKey: string; webhookSecret: string; latency: number; badge: string }): Promise<ChildMdm> {
  const { apiKey, webhookSecret, latency, badge } = options;
  const child = asOwnMachine(spawn(process.execPath, [__filename, apiKey, webhookSecret, String(latency), badge], { stdio: ['pipe', 'pipe', 'inherit'] }));
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
  const urls = JSON.parse(await nextLine()) as { mdm: string; badges: string };
  return {
    url: urls.mdm,
    badgeUrl: urls.badges,
    setWebhook: async (url) => void (await ask(`webhook ${url}`)),
    enrol: () => ask('enrol'),
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

if (require.main === module) void main();
