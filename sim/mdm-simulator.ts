import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { appleSchemas } from '../nodes/lib/mdm/apple-schema';
import { serveOnLoopback, stopServing } from './listen';
import { Timers } from './timers';

export interface EnqueueFault {
  /** Answer with this status instead of doing the work (500, 503, 429...). */
  status: number;
  /** Seconds, for 429 and 503. */
  retryAfter?: number;
  /** Queue the command anyway before failing (the request did reach the server). */
  queueAnyway?: boolean;
  /** The JSON body to answer with, e.g. the real server's shapes (`../shared/protocols/mdm.md`). */
  body?: Record<string, unknown>;
  /** How many requests meet this fault. */
  times: number;
}

/**
 * What every simulated MDM shares: served over HTTP on loopback, stopped with every timer it set,
 * and what tests and benches read of it: the requests it served, the Apple commands that broke
 * Apple's schemas on their way to the phones, the most requests it served at once; and the
 * faults and latency they give it.
 */
export abstract class MdmSimulator {
  url = '';
  /** Requests the API served: method, path, status. */
  readonly requests: { method: string; path: string; status: number }[] = [];
  /** Apple commands that broke Apple's schema, with the problems: tests expect none. */
  readonly invalidCommands: { requestType: string; problems: string[] }[] = [];
  /** Faults the next API requests meet (not a token endpoint). */
  faults: EnqueueFault[] = [];
  /** Extra time each API request takes, ms. */
  latency = 0;
  /** The most requests it ever served at once. */
  peakInFlight = 0;
  private inFlight = 0;
  protected readonly timers = new Timers();
  private server?: Server;

  async start(port = 0): Promise<string> {
    ({ server: this.server, url: this.url } = await serveOnLoopback((req, res) => {
      this.peakInFlight = Math.max(this.peakInFlight, ++this.inFlight);
      res.once('close', () => this.inFlight--);
      void this.receive(req, res);
    }, port));
    return this.url;
  }

  async stop(): Promise<void> {
    this.timers.clear();
    await stopServing(this.server);
  }

  /** Answers one request, its body read whole. */
  protected abstract handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void>;

  /** Answers with the next fault still to come (its status, Retry-After, and its body or the server's error `body`), if any: true when it did. */
  protected replyWithFault(reply: (status: number, payload: unknown, headers: Record<string, string>) => void, body: (status: number) => unknown): boolean {
    const fault = this.faults.find((f) => f.times > 0);
    if (!fault) return false;
    fault.times--;
    reply(fault.status, fault.body ?? body(fault.status), fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) });
    return true;
  }

  /** Answers with `payload` (JSON, or a string as it is) and keeps the request for tests. */
  protected answer(req: IncomingMessage, res: ServerResponse, path: string, status: number, payload?: unknown, headers: Record<string, string> = {}): void {
    this.requests.push({ method: req.method ?? '', path, status });
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(payload === undefined ? '' : typeof payload === 'string' ? payload : JSON.stringify(payload));
  }

  private async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    await this.handle(req, res, Buffer.concat(chunks));
  }

  /** Keeps what is wrong with `command` by Apple's schemas. */
  protected checkCommand(command: { RequestType: string; [key: string]: unknown }, uuid: string = randomUUID()): void {
    const problems = appleSchemas().validateCommand({ CommandUUID: uuid, Command: command });
    if (problems.length > 0) this.invalidCommands.push({ requestType: command.RequestType, problems });
  }
}
