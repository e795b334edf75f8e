import type { EventEmitter } from 'node:events';
import axios from 'axios';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import mdmServer from '../nodes/mdm-server/mdm-server';
import deviceFleet from '../nodes/device-fleet/device-fleet';
import mdmCommand from '../nodes/mdm-command/mdm-command';
import checkInDevice from '../nodes/check-in-device/check-in-device';
import clearPasscode from '../nodes/clear-passcode/clear-passcode';
import { webhookHandler } from '../nodes/mdm-server/webhooks';
import * as commands from '../nodes/lib/mdm/commands';
import { appLockProfile } from '../nodes/lib/mdm/profiles';
import { SimulatedNanoMdm } from '../sim/nanomdm-server';
import { SimulatedWorkspaceOne } from '../sim/workspace-one-server';
import type { SimulatedIntune } from '../sim/intune-server';
import { INTUNE, startIntune } from '../harness/mdm-vendors';
import { SimulatedDevice } from '../sim/simulated-device';
import { webhookReceiver } from '../sim/webhook-receiver';
import { BENCH_POLL_MS, BENCH_SECRETS } from './mdm-child';
import { median } from './stats';
import { tempDir } from '../harness/support';

const API_KEY = 'bench-key';
const LOCKER = 'com.example.locker';
const MAX_CONCURRENT = 5;
/** Each API request takes this long at the MDM, so requests overlap as they do on a real server. */
const SERVER_LATENCY_MS = 5;
const BLACK_PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

/** The Return workflow's commands for one device: lock to the locker app, checked-in config, black wallpaper. */
function returnCommands(): { RequestType: string; keys: Record<string, unknown> }[] {
  return [
    { RequestType: 'InstallProfile', keys: { Payload: Buffer.from(commands.toPlist(appLockProfile(LOCKER))) } },
    { RequestType: 'Settings', keys: { Settings: [commands.applicationConfiguration(LOCKER, { status: 'Checked In' })] } },
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
  const limited = limiter(MAX_CONCURRENT);
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

/** A simulated MDM as the nodes meet it: the mdm-server node's fields and credentials, its enrolled phones. */
interface BenchMdm {
  phones: SimulatedDevice[];
  fields: Record<string, unknown>;
  credentials: Record<string, string>;
  /** The Return's steps on this MDM, each an action node sent every phone in turn (default: the three mdm-command steps). */
  steps?: BenchStep[];
  /** Enrols the phones, once the nodes listen. */
  enrol(): Promise<unknown>;
  peak(): number;
  stop(): Promise<void>;
}

/** NanoMDM with the nodes' webhook receiver; unsigned, as the raw client's webhooks are: the same work on both sides. */
async function nanoForNodes(devices: number): Promise<BenchMdm> {
  const { sim, phones } = await simulatedMdm(devices);
  const receiver = await webhookReceiver((body, signature) => webhookHandler('/device-checkout/webhook')?.(body, signature) ?? 503);
  sim.webhookUrl = receiver.url;
  return {
    phones,
    fields: { vendor: 'nanomdm', url: sim.url, acceptUnsigned: true, webhookPath: 'device-checkout/webhook' },
    credentials: { apiKey: API_KEY },
    enrol: () => Promise.all(phones.map((phone) => sim.enrol(phone))),
    peak: () => sim.peakInFlight,
    stop: async () => {
      await sim.stop();
      await receiver.close();
    },
  };
}

/** One step of the Return: an action node (its fields beyond id and fleet) and what its message carries. */
interface BenchStep {
  node: Record<string, unknown> & { type: string };
  payload?: unknown;
}

/** The Return's three commands as mdm-command nodes. */
const COMMAND_STEPS: BenchStep[] = returnCommands().map(({ RequestType, keys }) => ({
  node: { type: 'mdm-command', command: RequestType, params: '' },
  payload: keys,
}));

/** Through the package's nodes in a Node-RED runtime: mdm-server, device-fleet, the steps' action nodes. */
async function nodesRun(devices: number, start: (devices: number) => Promise<BenchMdm>): Promise<{ seconds: number; peak: number }> {
  const mdm = await start(devices);
  const { phones } = mdm;
  const steps = mdm.steps ?? COMMAND_STEPS;
  helper.settings({ userDir: tempDir('bench-userdir') });
  await helper.load(
    [mdmServer, deviceFleet, mdmCommand, checkInDevice, clearPasscode],
    [
      { id: 'mdm', type: 'mdm-server', maxConcurrent: String(MAX_CONCURRENT), timeout: '30000', webhookPath: 'device-checkout/webhook', ...mdm.fields },
      { id: 'fleet', type: 'device-fleet', mdm: 'mdm', lockerApp: LOCKER },
      ...steps.map((step, i) => ({ id: `cmd${i}`, fleet: 'fleet', timeout: '120', wires: [['done']], ...step.node })),
      { id: 'done', type: 'helper' },
    ] as never,
    { mdm: mdm.credentials } as never,
  );
  await mdm.enrol();
  const next = new Map<string, (msg: NodeMessage) => void>();
  helper.getNode('done').on('input', (msg: NodeMessage) => next.get((msg as { _device?: string })._device ?? '')?.(msg));
  // A node that fails (a setting it refuses, the MDM away) ends the run with its reason instead of a wait that never ends.
  const failed = new Promise<never>((_resolve, reject) => {
    for (const id of ['mdm', ...steps.map((_step, i) => `cmd${i}`)])
      (helper.getNode(id) as unknown as EventEmitter).on('call:error', (call: { args: unknown[] }) => reject(new Error(`${id}: ${String(call.args[0])}`)));
  });
  const started = performance.now();
  await Promise.race([
    failed,
    Promise.all(
      phones.map(async (phone) => {
        for (let i = 0; i < steps.length; i++) {
          const done = new Promise<NodeMessage>((resolve) => next.set(phone.udid, resolve));
          (helper.getNode(`cmd${i}`) as Node).receive({ _device: phone.udid, device: { udid: phone.udid }, payload: steps[i].payload } as NodeMessage);
          await done;
        }
      }),
    ),
  ]);
  const seconds = (performance.now() - started) / 1000;
  const peak = mdm.peak();
  await helper.unload();
  await mdm.stop();
  return { seconds, peak };
}

/** Rounds of the raw client and of the nodes, one after the other, on fresh simulators: medians. */
async function measureThroughput(
  devices: number,
  rounds: number,
  rawRun: (devices: number) => Promise<number>,
  start: (devices: number) => Promise<BenchMdm>,
): Promise<ThroughputResult> {
  helper.init(require.resolve('node-red'));
  const nodes: number[] = [];
  const raw: number[] = [];
  let peakInFlight = 0;
  for (let round = 0; round < rounds; round++) {
    raw.push(await rawRun(devices));
    const run = await nodesRun(devices, start);
    nodes.push(run.seconds);
    peakInFlight = Math.max(peakInFlight, run.peak);
  }
  return { devices, nodes: median(nodes), raw: median(raw), peakInFlight, rounds };
}

export function measureMdmThroughput(devices: number, rounds: number): Promise<ThroughputResult> {
  return measureThroughput(devices, rounds, rawRun, nanoForNodes);
}

export function formatMdmThroughput(r: ThroughputResult): string {
  const ratio = r.nodes / r.raw;
  return `${r.devices} devices x 3 Return commands (enqueue + acknowledgement), MDM answering in ${SERVER_LATENCY_MS} ms, ${MAX_CONCURRENT} requests at once: nodes ${r.nodes.toFixed(2)} s, raw axios ${r.raw.toFixed(2)} s, ratio ${ratio.toFixed(2)} (target at most 1.3: ${ratio <= 1.3 ? 'met' : 'MISSED'}); peak requests in flight at the MDM ${r.peakInFlight} (limit ${MAX_CONCURRENT}) (median of ${r.rounds} rounds)`;
}

const WS1 = BENCH_SECRETS['workspace-one'];

async function simulatedWs1(devices: number): Promise<{ sim: SimulatedWorkspaceOne; phones: SimulatedDevice[] }> {
  const sim = new SimulatedWorkspaceOne({ ...WS1, checkinDelay: 2 });
  sim.latency = SERVER_LATENCY_MS;
  await sim.start();
  const phones = Array.from({ length: devices }, () => new SimulatedDevice());
  for (const phone of phones) sim.enrol(phone);
  return { sim, phones };
}

async function ws1ForNodes(devices: number): Promise<BenchMdm> {
  const { sim, phones } = await simulatedWs1(devices);
  return {
    phones,
    fields: { vendor: 'workspace-one', url: sim.url, tokenUrl: sim.tokenUrl, pollInterval: String(BENCH_POLL_MS) },
    credentials: WS1,
    enrol: async () => undefined,
    peak: () => sim.peakInFlight,
    stop: () => sim.stop(),
  };
}

/**
 * The same requests as the Workspace ONE adapter with nothing but axios: one token, then per
 * command the phone's queue read, the custom command sent, the queue read until it is done.
 */
async function ws1RawRun(devices: number): Promise<number> {
  const { sim, phones } = await simulatedWs1(devices);
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: WS1.clientId, client_secret: WS1.clientSecret });
  const started = performance.now();
  const { data: token } = await axios.post<{ access_token: string }>(sim.tokenUrl, form.toString());
  const api = axios.create({
    baseURL: sim.url,
    headers: { authorization: `Bearer ${token.access_token}`, 'aw-tenant-code': WS1.tenantCode, accept: 'application/json;version=1' },
  });
  const limited = limiter(MAX_CONCURRENT);
  type Queue = { items: { CommandName: string; LastStatus: string; TransactionUuid: string }[] };
  await Promise.all(
    phones.map(async (phone) => {
      const { data: device } = await limited(() => api.get<{ Uuid: string }>('/api/mdm/devices', { params: { searchby: 'Udid', id: phone.udid } }));
      const queue = async () => (await limited(() => api.get<Queue>(`/api/mdm/devices/${device.Uuid}/commands`))).data.items;
      for (const { RequestType, keys } of returnCommands()) {
        const before = new Set((await queue()).map((i) => i.TransactionUuid));
        const xml = /<plist[^>]*>\s*([\s\S]*?)\s*<\/plist>/.exec(commands.toPlist({ RequestType, ...keys }))![1];
        await limited(() =>
          api.post('/api/mdm/devices/commands', { CommandXml: xml }, { params: { command: 'CustomMdmCommand', searchby: 'Udid', id: phone.udid } }),
        );
        for (;;) {
          if ((await queue()).some((i) => !before.has(i.TransactionUuid) && i.LastStatus === 'Completed')) break;
          await new Promise((resolve) => setTimeout(resolve, BENCH_POLL_MS));
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await sim.stop();
  return seconds;
}

/** At most `max` of the calls it wraps in flight at once. */
function limiter(max: number): <T>(work: () => Promise<T>) => Promise<T> {
  let inFlight = 0;
  const queue: (() => void)[] = [];
  return async (work) => {
    if (inFlight >= max) await new Promise<void>((resolve) => queue.push(resolve));
    else inFlight++;
    try {
      return await work();
    } finally {
      const next = queue.shift();
      if (next) next();
      else inFlight--;
    }
  };
}

/** The same 500 phones x 3 Return commands through Workspace ONE: the nodes against a raw client doing the same requests. */
export function measureWs1Throughput(devices: number, rounds: number): Promise<ThroughputResult> {
  return measureThroughput(devices, rounds, ws1RawRun, ws1ForNodes);
}

export function formatWs1Throughput(r: ThroughputResult): string {
  const ratio = r.nodes / r.raw;
  return `Workspace ONE: ${r.devices} devices x 3 Return commands (custom command + its queue read back every ${BENCH_POLL_MS} ms), MDM answering in ${SERVER_LATENCY_MS} ms, ${MAX_CONCURRENT} requests at once: nodes ${r.nodes.toFixed(2)} s, raw axios ${r.raw.toFixed(2)} s, ratio ${ratio.toFixed(2)} (target at most 1.3: ${ratio <= 1.3 ? 'met' : 'MISSED'}); peak requests in flight at the MDM ${r.peakInFlight} (limit ${MAX_CONCURRENT}) (median of ${r.rounds} rounds)`;
}

async function simulatedIntune(devices: number): Promise<{ sim: SimulatedIntune; phones: SimulatedDevice[] }> {
  // Graph's real limit (200 device writes in 20 s) would pace both sides alike; the bench measures what the nodes add.
  const sim = await startIntune(LOCKER, { checkinDelay: 2, pageSize: 1000, writeLimit: { requests: 1_000_000, seconds: 1 } });
  sim.latency = SERVER_LATENCY_MS;
  const phones = Array.from({ length: devices }, () => new SimulatedDevice());
  for (const phone of phones) sim.enrol(phone);
  return { sim, phones };
}

/** The Return on Intune as the nodes do it: Check In (the phone into the locked group, a sync waited for), then Clear Passcode. */
async function intuneForNodes(devices: number): Promise<BenchMdm> {
  const { sim, phones } = await simulatedIntune(devices);
  const { tenantId, checkedOutGroup, lockedGroup, clientId, clientSecret } = INTUNE;
  return {
    phones,
    fields: { vendor: 'intune', url: sim.url, tokenUrl: sim.url, tenantId, checkedOutGroup, lockedGroup, pollInterval: String(BENCH_POLL_MS) },
    credentials: { clientId, clientSecret },
    steps: [{ node: { type: 'check-in-device' } }, { node: { type: 'clear-passcode' } }],
    enrol: async () => undefined,
    peak: () => sim.peakInFlight,
    stop: () => sim.stop(),
  };
}

/**
 * The same Graph requests as the Intune adapter's Return with nothing but axios: one token, the
 * device list, then per phone its record, its Entra ID device, into the locked group and out of
 * the other, its primary user cleared, a sync read back until done, its inventory, and
 * resetPasscode read back until done.
 */
async function intuneRawRun(devices: number): Promise<number> {
  const { sim } = await simulatedIntune(devices);
  const { tenantId, clientId, clientSecret, checkedOutGroup, lockedGroup } = INTUNE;
  type Device = {
    id: string;
    udid: string;
    azureADDeviceId: string;
    lastSyncDateTime: string;
    deviceActionResults?: { actionName: string; actionState: string; startDateTime: string }[];
  };
  const started = performance.now();
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: `${sim.url}/.default` });
  const { data: token } = await axios.post<{ access_token: string }>(`${sim.url}/${tenantId}/oauth2/v2.0/token`, form.toString());
  const api = axios.create({ baseURL: sim.url, headers: { authorization: `Bearer ${token.access_token}`, accept: 'application/json' } });
  const limited = limiter(MAX_CONCURRENT);
  const pause = () => new Promise((resolve) => setTimeout(resolve, BENCH_POLL_MS));
  const listed = (
    await limited(() => api.get<{ value: Device[] }>('/beta/deviceManagement/managedDevices', { params: { $filter: "operatingSystem eq 'iOS'" } }))
  ).data.value;
  await Promise.all(
    listed.map(async ({ id }) => {
      const device = `/beta/deviceManagement/managedDevices/${id}`;
      const read = async () => (await limited(() => api.get<Device>(device))).data;
      const { azureADDeviceId } = await read();
      const { data: found } = await limited(() =>
        api.get<{ value: { id: string }[] }>('/v1.0/devices', { params: { $filter: `deviceId eq '${azureADDeviceId}'` } }),
      );
      const member = found.value[0].id;
      await limited(() => api.post(`/v1.0/groups/${lockedGroup}/members/$ref`, { '@odata.id': `${sim.url}/v1.0/directoryObjects/${member}` }));
      await limited(() => api.delete(`/v1.0/groups/${checkedOutGroup}/members/${member}/$ref`, { validateStatus: (s) => s === 204 || s === 404 }));
      const synced = (await read()).lastSyncDateTime;
      await limited(() => api.post(`/v1.0/deviceManagement/managedDevices/${id}/syncDevice`));
      while ((await read()).lastSyncDateTime === synced) await pause();
      await limited(() => api.delete(`${device}/users/$ref`, { validateStatus: (s) => s === 204 || s === 404 }));
      await read();
      const before = (await read()).deviceActionResults?.find((r) => r.actionName === 'resetPasscode')?.startDateTime;
      await limited(() => api.post(`/v1.0/deviceManagement/managedDevices/${id}/resetPasscode`));
      for (;;) {
        const result = (await read()).deviceActionResults?.find((r) => r.actionName === 'resetPasscode' && r.startDateTime !== before);
        if (result?.actionState === 'done') break;
        await pause();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await sim.stop();
  return seconds;
}

/** The same 500 phones' Return through Intune: the nodes against a raw client doing the same requests. */
export function measureIntuneThroughput(devices: number, rounds: number): Promise<ThroughputResult> {
  return measureThroughput(devices, rounds, intuneRawRun, intuneForNodes);
}

export function formatIntuneThroughput(r: ThroughputResult): string {
  const ratio = r.nodes / r.raw;
  return `Intune: ${r.devices} devices x the Return (Check In by group with a sync waited for, Clear Passcode; read back every ${BENCH_POLL_MS} ms), Graph answering in ${SERVER_LATENCY_MS} ms, ${MAX_CONCURRENT} requests at once: nodes ${r.nodes.toFixed(2)} s, raw axios ${r.raw.toFixed(2)} s, ratio ${ratio.toFixed(2)} (target at most 1.3: ${ratio <= 1.3 ? 'met' : 'MISSED'}); peak requests in flight at Graph ${r.peakInFlight} (limit ${MAX_CONCURRENT}) (median of ${r.rounds} rounds)`;
}
