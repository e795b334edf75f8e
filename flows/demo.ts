import { join } from 'node:path';
import { simulatedHub } from '../sim/hub-registry';
import type express from 'express';
import { startNodeRed, type Runtime } from './node-red-runtime';

export interface DemoOptions {
  /** 0 picks a free port. */
  port: number;
  /** Milliseconds between the simulated phones' docks and unplugs; 0 leaves the cart still. */
  autopilotEvery: number;
}

/** Node-RED with the package, the simulated cart and the demo flows deployed. */
export async function startDemo({ port, autopilotEvery }: DemoOptions): Promise<Runtime> {
  const runtime = await startNodeRed({
    port,
    flows: join(__dirname, '..', '..', 'flows', 'demo-flows.json'),
    beforeStart: serveCartControls,
    logLevel: process.env.DEMO_LOG_LEVEL ?? 'info',
  });
  const autopilot = autopilotEvery > 0 ? setInterval(() => movePhone('cart1'), autopilotEvery) : undefined;
  return {
    ...runtime,
    async stop() {
      clearInterval(autopilot);
      await runtime.stop();
    },
  };
}

/**
 * The simulated cart's controls, `GET /sim/<hub>` lists ports,
 * `POST /sim/<hub>/<port>/dock` and `.../unplug` move a phone.
 */
function serveCartControls(httpNode: express.Express): void {
  const portsOf = (hubName: string) => {
    const hub = simulatedHub(hubName);
    return Array.from({ length: hub.portCount }, (_, i) => ({ port: i + 1, docked: hub.isDocked(i + 1), led: hub.led(i + 1) }));
  };
  httpNode.get('/sim/:hub', (req, res) => res.status(200).json(portsOf(req.params.hub)));
  httpNode.post('/sim/:hub/:port/:action', (req, res) => {
    const hub = simulatedHub(req.params.hub);
    const port = Number(req.params.port);
    const move = { dock: () => hub.dock(port), unplug: () => hub.unplug(port) }[req.params.action];
    if (!Number.isInteger(port) || port < 1 || port > hub.portCount || !move) {
      res.status(404).json({ error: 'POST /sim/<hub>/<port>/dock or /unplug' });
      return;
    }
    move();
    res.status(200).json(portsOf(req.params.hub)[port - 1]);
  });
}

/** Docks a phone on a free port or takes one away, at random, like a busy cart. */
function movePhone(hubName: string): void {
  const hub = simulatedHub(hubName);
  const port = 1 + Math.floor(Math.random() * hub.portCount);
  if (hub.isDocked(port)) hub.unplug(port);
  else hub.dock(port, 400 + Math.floor(Math.random() * 800));
}
