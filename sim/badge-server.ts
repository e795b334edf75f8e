import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenOnLoopback } from './listen';

/**
 * A site's badge lookup service on loopback: `GET /?id=<badge>` answers `{"user", "name"}`
 * for a known badge and 404 otherwise. `lookups` counts requests, never keeping the ids.
 */
export class SimulatedBadgeServer {
  lookups = 0;
  url = '';
  private server?: Server;

  constructor(readonly badges: Map<string, { user: string; name?: string }>) {}

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      this.lookups++;
      const id = new URL(req.url ?? '/', 'http://badges').searchParams.get('id') ?? '';
      const holder = this.badges.get(id);
      res.writeHead(holder ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(holder ?? { error: 'unknown badge' }));
    });
    await listenOnLoopback(this.server, port);
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/lookup`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
