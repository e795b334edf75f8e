import type { Server } from 'node:http';
import { serveOnLoopback, stopServing } from './listen';

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
    const { server, url } = await serveOnLoopback((req, res) => {
      this.lookups++;
      const id = new URL(req.url ?? '/', 'http://badges').searchParams.get('id') ?? '';
      const holder = this.badges.get(id);
      res.writeHead(holder ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(holder ?? { error: 'unknown badge' }));
    }, port);
    this.server = server;
    this.url = `${url}/lookup`;
    return this.url;
  }

  stop(): Promise<void> {
    return stopServing(this.server);
  }
}
