import axios from 'axios';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import mdmServer from '../nodes/mdm-server/mdm-server';
import deviceFleet from '../nodes/device-fleet/device-fleet';
import mdmCommand from '../nodes/mdm-command/mdm-command';
import { webhookHandler } from '../nodes/mdm-server/webhooks';
import * as commands from '../nodes/lib/mdm/commands';
import { appLockProfile } from '../nodes/lib/mdm/profiles';
import { SimulatedNanoMdm } from '../sim/nanomdm-server';
import { SimulatedDevice } from '../sim/simulated-device';
import { webhookReceiver } from '../sim/webhook-receiver';
import { median } from './stats';
import { tempDir } from '../harness/support';

const API_KEY = 'bench-key';
const MAX_CONCURRENT = 5;
/** Each API request takes this long at the MDM, so requests overlap as they do on a real server. */
const SERVER_LATENCY_MS = 5;
const BLACK_PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

/** The Return workflow's commands for one device: lock to the locker app, checked-in config, black wallpaper. */
function returnCommands(): { RequestType: string; keys: Record<string, unknown> }[] {
  return [
    { RequestType: 'InstallProfile', keys: { Payload: Buffer.from(commands.toPlist(appLockProfile('com.example.locker'))) } },
    { RequestType: 'Settings', keys: { Settings: [commands.applicationConfiguration('com.example.locker', { status: 'Checked In' })] } },
    { RequestType: 'Settings', keys: { Settings: [commands.wallpaper(BLACK_PNG, 3)] } },
  ];
}

export interface ThroughputResult {
  devices: number;
  /** Seconds until every device acknowledged all its commands, median of rounds. */
  nodes: number;
  raw: number;
  /** Most requests the simulated MDM ever saw at once while the nodes ran. */
  peakInFlight: number;
  rounds: number;
}

async function simulatedMdm(devices: number): Promise<{ sim: SimulatedNanoMdm; phones: SimulatedDevice[] }> {
  const sim = new SimulatedNanoMdm({ apiKey: API_KEY, checkinDelay: 2 });
  sim.latency = SERVER_LATENCY_MS;
  await sim.start();
  return { sim, phones: Array.from({ length: devices }, () => new SimulatedDevice()) };
}

/** The same work with nothing but axios: enqueue, wait for the acknowledgement, next command. */
async function rawRun(devices: number): Promise<number> {
  const { sim, phones } = await simulatedMdm(devices);
  const waiting = new Map<string, () => void>();
  const receiver = await webhookReceiver((body) => {
    const event = JSON.parse(body.toString()) as { acknowledge_event?: { command_uuid?: string; status?: string } };
    const ack = event.acknowledge_event;
    if (ack?.command_uuid && ack.status === 'Acknowledged') waiting.get(ack.command_uuid)?.();
    return 200;
  });
  sim.webhookUrl = receiver.url;
  for (const phone of phones) await sim.enrol(phone);
  let inFlight = 0;
  const queue: (() => void)[] = [];
  const limited = async <T>(work: () => Promise<T>): Promise<T> => {
    if (inFlight >= MAX_CONCURRENT) await new Promise<void>((resolve) => queue.push(resolve));
    else inFlight++;
    try {
      return await work();
    } finally {
      const next = queue.shift();
      if (next) next();
      else inFlight--;
    }
  };
  const started = performance.now();
  await Promise.all(
    phones.map(async (phone) => {
      for (const { RequestType, keys } of returnCommands()) {
        const command = commands.mdmCommand(RequestType, keys);
        const acked = new Promise<void>((resolve) => waiting.set(command.CommandUUID, resolve));
        await limited(() =>
          axios.put(`${sim.url}/v1/enqueue/${phone.udid}`, commands.toPlist(command), {
            auth: { username: 'nanomdm', password: API_KEY },
            headers: { 'content-type': 'application/xml' },
          }),
        );
        await acked;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await sim.stop();
  await receiver.close();
  return seconds;
}

/** Through the package's nodes in a Node-RED runtime: mdm-server, device-fleet, mdm-command. */
async function nodesRun(devices: number): Promise<{ seconds: number; peak: number }> {
  const { sim, phones } = await simulatedMdm(devices);
  const receiver = await webhookReceiver((body, signature) => webhookHandler('/device-checkout/webhook')?.(body, signature) ?? 503);
  sim.webhookUrl = receiver.url;
  helper.settings({ userDir: tempDir('bench-userdir') });
  await helper.load(
    [mdmServer, deviceFleet, mdmCommand],
    [
      // Unsigned, as the raw client's webhooks are: the same work on both sides.
      {
        id: 'mdm',
        type: 'mdm-server',
        vendor: 'nanomdm',
        url: sim.url,
        maxConcurrent: String(MAX_CONCURRENT),
        timeout: '30000',
        webhookPath: 'device-checkout/webhook',
        acceptUnsigned: true,
      },
      { id: 'fleet', type: 'device-fleet', mdm: 'mdm' },
      ...[0, 1, 2].map((i) => ({
        id: `cmd${i}`,
        type: 'mdm-command',
        fleet: 'fleet',
        command: returnCommands()[i].RequestType,
        params: '',
        timeout: '120',
        wires: [['done']],
      })),
      { id: 'done', type: 'helper' },
    ] as never,
    { mdm: { apiKey: API_KEY } } as never,
  );
  for (const phone of phones) await sim.enrol(phone);
  const next = new Map<string, (msg: NodeMessage) => void>();
  helper.getNode('done').on('input', (msg: NodeMessage) => next.get((msg as { _device?: string })._device ?? '')?.(msg));
  sim.peakInFlight = 0;
  const started = performance.now();
  await Promise.all(
    phones.map(async (phone) => {
      const steps = returnCommands();
      for (let i = 0; i < steps.length; i++) {
        const done = new Promise<NodeMessage>((resolve) => next.set(phone.udid, resolve));
        (helper.getNode(`cmd${i}`) as Node).receive({ _device: phone.udid, device: { udid: phone.udid }, payload: steps[i].keys } as NodeMessage);
        await done;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const peak = sim.peakInFlight;
  await helper.unload();
  await sim.stop();
  await receiver.close();
  return { seconds, peak };
}

export async function measureMdmThroughput(devices: number, rounds: number): Promise<ThroughputResult> {
  helper.init(require.resolve('node-red'));
  const nodes: number[] = [];
  const raw: number[] = [];
  let peakInFlight = 0;
  for (let round = 0; round < rounds; round++) {
    raw.push(await rawRun(devices));
    const run = await nodesRun(devices);
    nodes.push(run.seconds);
    peakInFlight = Math.max(peakInFlight, run.peak);
  }
  return { devices, nodes: median(nodes), raw: median(raw), peakInFlight, rounds };
}

export function formatMdmThroughput(r: ThroughputResult): string {
  const ratio = r.nodes / r.raw;
  return `${r.devices} devices x 3 Return commands (enqueue + acknowledgement), MDM answering in ${SERVER_LATENCY_MS} ms, ${MAX_CONCURRENT} requests at once: nodes ${r.nodes.toFixed(2)} s, raw axios ${r.raw.toFixed(2)} s, ratio ${ratio.toFixed(2)} (target at most 1.3: ${ratio <= 1.3 ? 'met' : 'MISSED'}); peak requests in flight at the MDM ${r.peakInFlight} (limit ${MAX_CONCURRENT}) (median of ${r.rounds} rounds)`;
}
