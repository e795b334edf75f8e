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

/** Webhook handlers by full path (node root included). */
const handlers = new Map<string, Handler>();
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
  const handler = req.method === 'POST' ? handlers.get(req.url.split('?')[0]) : undefined;
  if (!handler) return next();
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  });
  req.on('end', () => {
    const signature = req.headers['x-hmac-signature'];
    res.statusCode = size > MAX_BODY ? 413 : handler(Buffer.concat(chunks), Array.isArray(signature) ? signature[0] : signature);
    res.end();
  });
};

/** The URL path a webhook is served at: the node root plus the configured path. */
function webhookUrlPath(RED: NodeAPI, path: string): string {
  const root = ((RED.settings as { httpNodeRoot?: string | false }).httpNodeRoot || '/').replace(/\/$/, '');
  return `${root}/${path.replace(/^\/+/, '')}`;
}

/** Serves `handler` at `path`; false when webhooks cannot be received in this runtime. */
export function serveWebhook(RED: NodeAPI, path: string, handler: Handler): boolean {
  handlers.set(webhookUrlPath(RED, path), handler);
  return install(RED);
}

export function stopWebhook(RED: NodeAPI, path: string, handler: Handler): void {
  const full = webhookUrlPath(RED, path);
  if (handlers.get(full) === handler) handlers.delete(full);
}

/** The handler serving `fullPath`, for tests that deliver webhooks without HTTP. */
export function webhookHandler(fullPath: string): Handler | undefined {
  return handlers.get(fullPath);
}
