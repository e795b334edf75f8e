import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import axios from 'axios';
import { appleSchemas } from '../nodes/lib/mdm/apple-schema';
import { parsePlist, toPlist } from '../nodes/lib/mdm/commands';
import type { SimulatedDevice } from './simulated-device';
import { MdmSimulator } from './mdm-simulator';

export interface SimulatedNanoMdmOptions {
  apiKey: string;
  /** Where results and check-ins are POSTed, as NanoMDM's -webhook-url. */
  webhookUrl?: string;
  /** HMAC key for X-Hmac-Signature, as NanoMDM's -webhook-hmac-key. */
  webhookSecret?: string;
  /** How long after a push the device checks in, ms. */
  checkinDelay?: number;
  /** How long an erased DEP device takes to enrol again, ms. */
  reenrolDelay?: number;
  /** How long a device that said NotNow waits before checking in again, ms. */
  notNowDelay?: number;
}

interface QueuedCommand {
  uuid: string;
  command: { RequestType: string; [key: string]: unknown };
}

/** Faults the next enqueue requests meet, for tests. */

/**
 * A NanoMDM-compatible server on loopback: `PUT /v1/enqueue/{ids}` with Basic auth, pushes
 * that make simulated devices check in, and results and check-ins sent to a webhook with
 * NanoMDM's JSON shape and HMAC header.
 */
export class SimulatedNanoMdm extends MdmSimulator {
  readonly devices = new Map<string, SimulatedDevice>();
  private readonly queues = new Map<string, QueuedCommand[]>();
  private readonly busy = new Set<string>();
  /** Webhook deliveries that failed (the receiver answered non-2xx or was away). */
  readonly webhookFailures: string[] = [];

  constructor(readonly options: SimulatedNanoMdmOptions) {
    super();
  }

  set webhookUrl(url: string) {
    this.options.webhookUrl = url;
  }

  /** A device enrols: Authenticate, then TokenUpdate (NanoMDM clears its queue on Authenticate). */
  async enrol(device: SimulatedDevice): Promise<void> {
    this.devices.set(device.udid, device);
    this.queues.set(device.udid, []);
    await this.post({ topic: 'mdm.Authenticate', checkin_event: { udid: device.udid, raw_payload: b64(toPlist(device.authenticateMessage())) } });
    device.enrolled = true;
    device.awaitingConfiguration = device.awaitDeviceConfigured;
    await this.post({
      topic: 'mdm.TokenUpdate',
      checkin_event: { udid: device.udid, raw_payload: b64(toPlist(device.tokenUpdateMessage())), token_update_tally: 1 },
    });
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    if (this.latency) await this.timers.delay(this.latency);
    const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}): void =>
      this.answer(req, res, req.url ?? '', status, payload, headers);
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/version') return reply(200, { version: 'v0.8.0-sim' });
    const user = path.startsWith('/proxy/') ? 'depserver' : 'nanomdm';
    if (req.headers.authorization !== `Basic ${Buffer.from(`${user}:${this.options.apiKey}`).toString('base64')}`) return reply(401, undefined);
    if (req.method === 'POST' && path === '/proxy/dep/profile/devices') return this.assignDep(body, reply);
    const enqueue = /^\/v1\/enqueue\/([^/]+)$/.exec(path);
    if (req.method !== 'PUT' || !enqueue) return reply(404, { error: 'not found' });

    const fault = this.faults.find((f) => f.times > 0);
    let command: QueuedCommand;
    try {
      const parsed = parsePlist(body) as { CommandUUID: string; Command: QueuedCommand['command'] };
      command = { uuid: parsed.CommandUUID, command: parsed.Command };
      if (!command.uuid || !command.command?.RequestType) throw new Error('no CommandUUID or RequestType');
      const problems = appleSchemas().validateCommand(parsed);
      if (problems.length > 0) this.invalidCommands.push({ requestType: command.command.RequestType, problems });
    } catch (err) {
      return reply(400, { error: `bad command plist: ${(err as Error).message}` });
    }
    if (fault && !fault.queueAnyway) {
      fault.times--;
      return reply(fault.status, fault.body ?? { error: 'simulated fault' }, fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) });
    }
    const ids = decodeURIComponent(enqueue[1]).split(',');
    const status: Record<string, Record<string, string>> = {};
    for (const id of ids) {
      const queue = this.queues.get(id);
      if (!queue || !this.devices.get(id)?.enrolled) status[id] = { command_error: 'enrollment not found' };
      else if (queue.some((q) => q.uuid === command.uuid)) status[id] = { command_error: 'command already exists' };
      else {
        queue.push(command);
        status[id] = { push_result: `push-${command.uuid.slice(0, 8)}` };
        this.push(id);
      }
    }
    if (fault) {
      fault.times--;
      return reply(fault.status, fault.body ?? { error: 'simulated fault after queueing' });
    }
    const failed = Object.values(status).filter((s) => s.command_error).length;
    reply(failed === 0 ? 200 : failed === ids.length ? 500 : 207, { status, command_uuid: command.uuid, request_type: command.command.RequestType });
  }

  /**
   * NanoDEP's proxy of Apple's `POST /profile/devices`: assigns the profile by serial; a
   * wiped device waiting in Setup Assistant then enrols.
   */
  private assignDep(body: Buffer, reply: (status: number, payload?: unknown) => void): void {
    const { profile_uuid, devices } = JSON.parse(body.toString('utf8')) as { profile_uuid: string; devices: string[] };
    const results: Record<string, string> = {};
    for (const serial of devices) {
      const device = [...this.devices.values()].find((d) => d.serial === serial);
      results[serial] = device ? 'SUCCESS' : 'NOT_ACCESSIBLE';
      if (!device) continue;
      device.depAssigned = true;
      if (!device.enrolled) this.timers.later(this.options.reenrolDelay ?? 50, () => this.enrol(device));
    }
    reply(200, { profile_uuid, devices: results });
  }

  /** A device that was silent answers again: a push reaches it and it works through what was queued meanwhile. */
  wake(udid: string): void {
    this.push(udid);
  }

  /** The device wakes up and works through its queue. */
  private push(udid: string, delay = this.options.checkinDelay ?? 5): void {
    if (this.busy.has(udid)) return;
    this.busy.add(udid);
    this.timers.later(delay, async () => {
      const device = this.devices.get(udid)!;
      const queue = this.queues.get(udid)!;
      while (queue.length > 0 && device.enrolled) {
        const next = queue[0];
        const report = device.execute(next.command);
        if (!report) break; // silent: it never answers
        if (report.Status === 'NotNow') {
          await this.result(device, next.uuid, report);
          this.busy.delete(udid);
          return this.push(udid, this.options.notNowDelay ?? 50);
        }
        queue.shift();
        await this.result(device, next.uuid, report);
        if (next.command.RequestType === 'EraseDevice' && report.Status === 'Acknowledged') this.erase(device, next.command);
      }
      // Every poll ends with an Idle connect, which carries no result.
      await this.post({ topic: 'mdm.Connect', acknowledge_event: { udid, status: 'Idle', raw_payload: b64(toPlist({ UDID: udid, Status: 'Idle' })) } });
      this.busy.delete(udid);
      // A command queued while the device was saying Idle is fetched by the next poll.
      if (queue.length > 0 && device.enrolled && !device.silent) this.push(udid);
    });
  }

  private erase(device: SimulatedDevice, command: QueuedCommand['command']): void {
    const comesBack = device.erase(command);
    this.queues.set(device.udid, []);
    if (comesBack) this.timers.later(this.options.reenrolDelay ?? 50, () => this.enrol(device));
  }

  private result(device: SimulatedDevice, uuid: string, report: Record<string, unknown>): Promise<void> {
    const payload = { UDID: device.udid, CommandUUID: uuid, ...report };
    return this.post({
      topic: 'mdm.Connect',
      acknowledge_event: { udid: device.udid, status: report.Status, command_uuid: uuid, raw_payload: b64(toPlist(payload)) },
    });
  }

  /** One webhook delivery, shaped and signed as NanoMDM does it. */
  private async post(event: Record<string, unknown>): Promise<void> {
    if (!this.options.webhookUrl) return;
    const body = JSON.stringify({ ...event, event_id: Math.random().toString(36).slice(2), created_at: new Date().toISOString() });
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
    if (this.options.webhookSecret) headers['x-hmac-signature'] = createHmac('sha256', this.options.webhookSecret).update(body).digest('base64');
    try {
      const res = await axios.post(this.options.webhookUrl, body, {
        headers,
        validateStatus: () => true,
        timeout: 5000,
        transformRequest: [(data: string) => data],
      });
      if (res.status >= 300) this.webhookFailures.push(`${String(event.topic)}: ${res.status}`);
    } catch (err) {
      this.webhookFailures.push(`${String(event.topic)}: ${(err as Error).message}`);
    }
  }
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
