import { createHmac } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { listenOnLoopback } from '../sim/listen';
import { PACKAGE_ROOT } from '../nodes/lib/package-root';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED ships no type declarations for its embedding API
const RED = require('node-red') as {
  init(server: ReturnType<typeof createServer>, settings: object): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  httpAdmin: express.Express;
  httpNode: express.Express;
};

const PACKAGE_NAME = 'node-red-contrib-device-checkout';

export interface RuntimeOptions {
  /** 0 picks a free port. */
  port: number;
  /** A flows file to deploy, or the flows themselves; none keeps what the user directory has. */
  flows?: string | object[];
  /** An existing user directory (a restart); by default a new throwaway one. */
  userDir?: string;
  /** Called after init and before start: where extra routes go. */
  beforeStart?: (httpNode: express.Express) => void;
  logLevel?: string;
  /** A settings file as an admin writes one (`module.exports = { adminAuth: ... }`): what it sets wins over these defaults. */
  settingsFile?: string;
}

export interface Runtime {
  url: string;
  userDir: string;
  stop(): Promise<void>;
}

/**
 * Node-RED on loopback, laid out as its own `red.js` does (one root app with the editor and
 * the node routes mounted on it), with this package linked from the working tree into a
 * throwaway user directory, as npm links a local package.
 */
export async function startNodeRed({ port, flows, beforeStart, logLevel = 'info', settingsFile, ...options }: RuntimeOptions): Promise<Runtime> {
  const userDir = options.userDir ?? mkdtempSync(join(tmpdir(), 'device-checkout-node-red-'));
  if (!existsSync(join(userDir, 'node_modules', PACKAGE_NAME))) {
    mkdirSync(join(userDir, 'node_modules'), { recursive: true });
    symlinkSync(PACKAGE_ROOT, join(userDir, 'node_modules', PACKAGE_NAME), 'dir');
  }
  if (typeof flows === 'string') copyFileSync(flows, join(userDir, 'flows.json'));
  else if (flows) writeFileSync(join(userDir, 'flows.json'), JSON.stringify(flows));

  const app = express();
  const server = createServer(app);
  RED.init(server, {
    userDir,
    flowFile: 'flows.json',
    credentialSecret: 'throwaway-user-directory',
    httpAdminRoot: '/',
    httpNodeRoot: '/',
    uiHost: '127.0.0.1',
    logging: { console: { level: logLevel } },
    telemetry: { enabled: false, updateNotification: false },
    editorTheme: { tours: false, palette: { catalogues: [] } },
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a settings.js, loaded as Node-RED loads one
    ...(settingsFile && (require(settingsFile) as object)),
  });
  app.use('/', RED.httpAdmin);
  app.use('/', RED.httpNode);
  beforeStart?.(RED.httpNode);
  // As Node-RED's own red.js: started first, then listening, so nobody meets a "Not started" 503.
  await RED.start();
  await listenOnLoopback(server, port).catch(async (err: Error) => {
    await RED.stop();
    throw err;
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    userDir,
    async stop() {
      await RED.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Deploys `flows` over the admin API, as the editor's Deploy button does (with adminAuth: as the user whose access token is given). */
export async function deployFlows(url: string, flows: object[], token?: string): Promise<void> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'node-red-deployment-type': 'full',
    ...(token && { authorization: `Bearer ${token}` }),
  };
  const deployed = await fetch(`${url}flows`, { method: 'POST', headers, body: JSON.stringify(flows) });
  if (deployed.status !== 204) throw new Error(`deploy failed: ${deployed.status} ${await deployed.text()}`);
}

/**
 * Waits until the MDM webhook at `url` is served: a signed event of no known kind is answered
 * 400 by the route (404 before it exists), and is not a refusal worth a warning in the log.
 */
export async function waitForWebhook(url: string, secret: string, ms = 15_000): Promise<void> {
  const body = '{"topic":"device-checkout.probe"}';
  const headers = { 'content-type': 'application/json', 'x-hmac-signature': createHmac('sha256', secret).update(body).digest('base64') };
  const deadline = Date.now() + ms;
  while ((await fetch(url, { method: 'POST', headers, body }).catch(() => undefined))?.status !== 400) {
    if (Date.now() > deadline) throw new Error(`the webhook at ${url} was never served`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
