import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simulatedHub } from '../sim/hub-registry';

// Node-RED ships no type declarations for its embedding API.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const RED = require('node-red') as {
  init(server: Server, settings: object): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  httpAdmin: (req: unknown, res: unknown, next: () => void) => void;
  httpNode: ((req: unknown, res: unknown, next: () => void) => void) & { get: Route; post: Route };
};
type Route = (path: string, handler: (req: { params: Record<string, string> }, res: { status(code: number): { json(body: unknown): void } }) => void) => void;

const PACKAGE_ROOT = join(__dirname, '..', '..');
const PACKAGE_NAME = 'node-red-contrib-device-checkout';

export interface DemoOptions {
  /** 0 picks a free port. */
  port: number;
  /** Milliseconds between the simulated phones' docks and unplugs; 0 leaves the cart still. */
  autopilotEvery: number;
}

export interface Demo {
  url: string;
  userDir: string;
  stop(): Promise<void>;
}

/**
 * Node-RED on loopback with this package loaded from the working tree (linked into a
 * throwaway user directory, as npm links a local package) and the demo flows deployed.
 */
export async function startDemo({ port, autopilotEvery }: DemoOptions): Promise<Demo> {
  const userDir = mkdtempSync(join(tmpdir(), 'device-checkout-demo-'));
  mkdirSync(join(userDir, 'node_modules'));
  symlinkSync(PACKAGE_ROOT, join(userDir, 'node_modules', PACKAGE_NAME), 'dir');
  copyFileSync(join(PACKAGE_ROOT, 'flows', 'demo-flows.json'), join(userDir, 'flows.json'));

  const server = createServer((req, res) =>
    RED.httpAdmin(req, res, () =>
      RED.httpNode(req, res, () => {
        res.statusCode = 404;
        res.end();
      }),
    ),
  );
  RED.init(server, {
    userDir,
    flowFile: 'flows.json',
    credentialSecret: 'demo-only-secret',
    httpAdminRoot: '/',
    httpNodeRoot: '/',
    uiHost: '127.0.0.1',
    logging: { console: { level: process.env.DEMO_LOG_LEVEL ?? 'info' } },
    telemetry: { enabled: false, updateNotification: false },
    editorTheme: { tours: false, palette: { catalogues: [] } },
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  serveCartControls();
  await RED.start();

  const autopilot = autopilotEvery > 0 ? setInterval(() => movePhone('cart1'), autopilotEvery) : undefined;
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/`;
  return {
    url,
    userDir,
    async stop() {
      clearInterval(autopilot);
      await RED.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The simulated cart's controls, `GET /sim/<hub>` lists ports,
 * `POST /sim/<hub>/<port>/dock` and `.../unplug` move a phone.
 */
function serveCartControls(): void {
  const portsOf = (hubName: string) => {
    const hub = simulatedHub(hubName);
    return Array.from({ length: hub.portCount }, (_, i) => ({ port: i + 1, docked: hub.isDocked(i + 1), led: hub.led(i + 1) }));
  };
  RED.httpNode.get('/sim/:hub', (req, res) => res.status(200).json(portsOf(req.params.hub)));
  RED.httpNode.post('/sim/:hub/:port/:action', (req, res) => {
    const hub = simulatedHub(req.params.hub);
    const port = Number(req.params.port);
    if (!Number.isInteger(port) || port < 1 || port > hub.portCount) return res.status(404).json({ error: 'no such port' });
    if (req.params.action === 'dock') hub.dock(port);
    else if (req.params.action === 'unplug') hub.unplug(port);
    else return res.status(404).json({ error: 'use dock or unplug' });
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
