import type { NodeAPI } from 'node-red';

type Handler = (body: Buffer, signature: string | undefined) => number;
type Middleware = (req: WebhookRequest, res: { statusCode: number; end(): void }, next: () => void) => void;
interface WebhookRequest extends NodeJS.ReadableStream {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}
interface ExpressApp {
  parent?: ExpressApp;
  use(middleware: Middleware): void;
  _router?: { stack: { handle: unknown }[] };
}

/** A path's handler, the MDM connection it belongs to, and how many nodes serve it. */
interface Route {
  owner: object;
  handler: Handler;
  users: number;
}

/** Webhook routes by full path (node root included). */
const routes = new Map<string, Route>();
const MAX_BODY = 1024 * 1024;
let installed = false;

/**
 * The editor's JSON parser runs before any route on RED.httpNode and would consume the body,
 * but the HMAC is over the exact bytes. So, as Node-RED's own http-in node does for raw
 * bodies, one middleware at the very top of the root app reads webhook bodies itself.
 * Returns false where the runtime has no such root app (the body cannot be captured).
 */
function install(RED: NodeAPI): boolean {
  if (installed) return true;
  let root = RED.httpNode as unknown as ExpressApp | undefined;
  while (root?.parent) root = root.parent;
  const stack = root?._router?.stack;
  if (!root || !stack) return false;
  root.use(captureWebhook);
  const index = stack.findIndex((layer) => layer.handle === captureWebhook);
  stack.unshift(...stack.splice(index, 1));
  installed = true;
  return true;
}

const captureWebhook: Middleware = (req, res, next) => {
  const handler = req.method === 'POST' ? routes.get(req.url.split('?')[0])?.handler : undefined;
  if (!handler) return next();
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  });
  req.on('end', () => {
    const signature = req.headers['x-hmac-signature'];
    try {
      res.statusCode = size > MAX_BODY ? 413 : handler(Buffer.concat(chunks), Array.isArray(signature) ? signature[0] : signature);
    } catch {
      res.statusCode = 500; // whatever a body did, it does not take Node-RED down
    }
    res.end();
  });
};

/** The URL path a webhook is served at: the node root plus the configured path. */
function webhookUrlPath(RED: NodeAPI, path: string): string {
  const root = ((RED.settings as { httpNodeRoot?: string | false }).httpNodeRoot || '/').replace(/\/$/, '');
  return `${root}/${path.replace(/^\/+/, '')}`;
}

/**
 * Serves `owner`'s `handler` at `path`: `served`, `unsupported` where this runtime cannot
 * capture webhook bodies, or `taken` when another MDM connection serves that path already
 * (NanoMDM posts to one URL: two servers there would each refuse the other's webhooks).
 */
export function serveWebhook(RED: NodeAPI, path: string, owner: object, handler: Handler): 'served' | 'unsupported' | 'taken' {
  const full = webhookUrlPath(RED, path);
  const route = routes.get(full);
  if (route && route.owner !== owner) return 'taken';
  if (route) route.users++;
  else routes.set(full, { owner, handler, users: 1 });
  return install(RED) ? 'served' : 'unsupported';
}

export function stopWebhook(RED: NodeAPI, path: string, owner: object): void {
  const full = webhookUrlPath(RED, path);
  const route = routes.get(full);
  if (route?.owner === owner && --route.users === 0) routes.delete(full);
}

/** The handler serving `fullPath`, for tests that deliver webhooks without HTTP. */
export function webhookHandler(fullPath: string): Handler | undefined {
  return routes.get(fullPath)?.handler;
}
