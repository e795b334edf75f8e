import axios, { type AxiosInstance } from 'axios';
import * as commands from '../nodes/lib/mdm/commands';
import { APP_LOCK_IDENTIFIER } from '../nodes/lib/mdm/profiles';
import { INTUNE } from '../harness/mdm-vendors';
import { BADGE, checkoutLedWire, LOCKER, MDM_LATENCY_MS, startRemoteMdm, tapsToReady } from './checkout';
import { BENCH_POLL_MS, BENCH_SECRETS, type ChildMdm } from './mdm-child';
import { median, ms, percentile } from './stats';

export interface VendorTapResult {
  vendor: 'workspace-one' | 'intune';
  samples: number;
  p50: number;
  p99: number;
  /** The check-out's requests to the same simulator by a bare axios client, one tap's worth each: median and p99. */
  bare: { p50: number; p99: number };
  ledWire: number;
}

const pause = () => new Promise((resolve) => setTimeout(resolve, BENCH_POLL_MS));

/** A check-out's MDM requests by a bare client (`tap`), and what puts the phone back as it was, untimed. */
interface BareCheckOut {
  tap(): Promise<void>;
  reset(): Promise<void>;
}

/**
 * One check-out's MDM work through Workspace ONE with nothing but axios, as the adapter does it:
 * the locker app's configuration and the App Lock's removal as custom commands, each followed in
 * the phone's command queue until it ended.
 */
async function ws1CheckOut(mdm: ChildMdm, udid: string): Promise<BareCheckOut> {
  const { clientId, clientSecret, tenantCode } = BENCH_SECRETS['workspace-one'];
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
  const { data: token } = await axios.post<{ access_token: string }>(mdm.server.tokenUrl, form.toString());
  const api = axios.create({
    baseURL: mdm.url,
    headers: { authorization: `Bearer ${token.access_token}`, 'aw-tenant-code': tenantCode, accept: 'application/json;version=1' },
  });
  const { data: device } = await api.get<{ Uuid: string }>('/api/mdm/devices', { params: { searchby: 'Udid', id: udid } });
  type Queue = { items: { TransactionUuid: string; LastStatus: string }[] };
  const queue = async () => (await api.get<Queue>(`/api/mdm/devices/${device.Uuid}/commands`)).data.items;
  const custom = async (command: commands.MdmCommand) => {
    const before = new Set((await queue()).map((i) => i.TransactionUuid));
    const xml = /<plist[^>]*>\s*([\s\S]*?)\s*<\/plist>/.exec(commands.toPlist(command.Command))![1];
    await api.post('/api/mdm/devices/commands', { CommandXml: xml }, { params: { command: 'CustomMdmCommand', searchby: 'Udid', id: udid } });
    // Ended either way: the phone's answer is the round trip (a phone without App Lock answers its removal with an error).
    while (!(await queue()).some((i) => !before.has(i.TransactionUuid) && ['Completed', 'Error'].includes(i.LastStatus))) await pause();
  };
  return {
    tap: async () => {
      await custom(commands.settings(commands.applicationConfiguration(LOCKER, { CheckoutStatus: 'Checked Out', UserId: 'alice', UserName: 'Alice Example' })));
      await custom(commands.removeProfile(APP_LOCK_IDENTIFIER));
    },
    reset: async () => undefined,
  };
}

/**
 * One check-out's MDM work through Intune with nothing but axios, as the adapter does it: her
 * Entra ID user found and made the primary user, the phone moved into the checked-out group and
 * out of the locked one, a sync asked for and read back until done.
 */
async function intuneCheckOut(mdm: ChildMdm, udid: string): Promise<BareCheckOut> {
  const { tenantId, clientId, clientSecret, checkedOutGroup, lockedGroup } = INTUNE;
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: `${mdm.url}/.default` });
  const { data: token } = await axios.post<{ access_token: string }>(`${mdm.url}/${tenantId}/oauth2/v2.0/token`, form.toString());
  const api: AxiosInstance = axios.create({ baseURL: mdm.url, headers: { authorization: `Bearer ${token.access_token}` }, validateStatus: (s) => s < 500 });
  type Device = { id: string; udid: string; azureADDeviceId: string; lastSyncDateTime: string };
  const listed = (await api.get<{ value: Device[] }>('/beta/deviceManagement/managedDevices')).data.value;
  const { id } = listed.find((d) => d.udid === udid)!;
  const record = async () => (await api.get<Device>(`/beta/deviceManagement/managedDevices/${id}`)).data;
  const move = async (join: string, leave: string) => {
    const { azureADDeviceId } = await record();
    const { data: found } = await api.get<{ value: { id: string }[] }>('/v1.0/devices', { params: { $filter: `deviceId eq '${azureADDeviceId}'` } });
    const member = found.value[0].id;
    await api.post(`/v1.0/groups/${join}/members/$ref`, { '@odata.id': `${mdm.url}/v1.0/directoryObjects/${member}` });
    await api.delete(`/v1.0/groups/${leave}/members/${member}/$ref`);
    const before = (await record()).lastSyncDateTime;
    await api.post(`/v1.0/deviceManagement/managedDevices/${id}/syncDevice`);
    while ((await record()).lastSyncDateTime === before) await pause();
  };
  return {
    tap: async () => {
      const { data: users } = await api.get<{ value: { id: string }[] }>('/v1.0/users', {
        params: { $filter: "userPrincipalName eq 'alice' or onPremisesSamAccountName eq 'alice'", $count: 'true' },
        headers: { consistencylevel: 'eventual' },
      });
      await api.post(`/beta/deviceManagement/managedDevices/${id}/users/$ref`, { '@odata.id': `${mdm.url}/beta/users/${users.value[0].id}` });
      await move(checkedOutGroup, lockedGroup);
    },
    // Docked and locked again, as the nodes' phone is before each tap.
    reset: () => move(lockedGroup, checkedOutGroup),
  };
}

/**
 * Badge tap to flashing white through Workspace ONE or Intune (in their own process, answering
 * in 20 ms, phones acknowledging at once, the nodes reading back every 100 ms), beside a bare
 * client doing the same lookup and MDM requests to the same simulator.
 */
export async function measureVendorTaps(vendor: 'workspace-one' | 'intune', samples: number): Promise<VendorTapResult> {
  const { mdm, close } = await startRemoteMdm(vendor);
  const taps = await tapsToReady(samples, mdm);
  const udid = await mdm.enrol();
  const checkOut = await (vendor === 'intune' ? intuneCheckOut : ws1CheckOut)(mdm, udid);
  await checkOut.reset();
  const bare: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await axios.get(mdm.badgeUrl, { params: { id: BADGE } });
    await checkOut.tap();
    bare.push(performance.now() - started);
    await checkOut.reset();
  }
  await close();
  return { vendor, samples, p50: median(taps), p99: percentile(taps, 99), bare: { p50: median(bare), p99: percentile(bare, 99) }, ledWire: checkoutLedWire() };
}

export function formatVendorTaps(r: VendorTapResult): string {
  const name = r.vendor === 'intune' ? 'Intune' : 'Workspace ONE';
  const floor = r.bare.p50 + r.ledWire;
  return (
    `${name}: badge tap to flashing white, ${r.samples} check-outs, MDM answering in ${MDM_LATENCY_MS} ms, state read back every ${BENCH_POLL_MS} ms: p50 ${ms(r.p50)}, p99 ${ms(r.p99)}; ` +
    `the same lookup and MDM requests by a bare client to the same simulator ${ms(r.bare.p50)} (p99 ${ms(r.bare.p99)}) + LED commands on the wire ${ms(r.ledWire)}: ` +
    `p50/floor ${(r.p50 / floor).toFixed(2)}, p99/(bare p99 + LED wire) ${(r.p99 / (r.bare.p99 + r.ledWire)).toFixed(2)}`
  );
}
