import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import type { Request, Response } from 'express';
import type { NodeAPI } from 'node-red';
import { cartPage } from '../lib/cart-screen/cart-page';
import type { CartScreen, ScreenView } from '../lib/cart-screen/cart-screen';
import { LoginThrottle } from '../lib/login-throttle';
import { builtFile, PACKAGE_ROOT } from '../lib/package-root';
import { sameSiteJson } from '../shared/same-site';

/** Each fleet's cart screen on Node-RED's HTTP (httpNodeRoot): this path and the cart's name or the fleet's id. */
export const CART_PATH = '/device-checkout/cart';

export interface ScreenSettings {
  screen: CartScreen;
  /** The header's title: the cart's name. */
  title: string;
  /** Asked once per browser (then kept in a cookie); empty: none. */
  pin?: string;
  /** `en-US`, `de`, or empty: the browser's. */
  lang: string;
  /** 0 (mute) to 1. */
  volume: number;
}

/** How often an idle event stream says it is alive (proxies close silent connections). */
const KEEP_ALIVE_MS = 15_000;
const COOKIE = 'device-checkout-screen';

export interface CartScreenRoutes {
  /** Serves a fleet's screen under each of `keys` until the returned function is called (then its open pages reconnect). */
  serve(keys: string[], settings: ScreenSettings): () => void;
}

/**
 * The cart's touch-screen page, its event stream, its sign-in and its PIN, on the node HTTP. A
 * screen with a PIN answers nothing but the PIN form until the browser has the cookie the right
 * PIN earns (derived from the PIN: it outlives a restart, and a new PIN voids it).
 */
export function cartScreenRoutes(RED: NodeAPI): CartScreenRoutes {
  const served = new Map<string, ScreenSettings & { streams: Set<Response> }>();
  const throttle = new LoginThrottle();
  const script = readFileSync(`${PACKAGE_ROOT}/resources/cart-screen.js`, 'utf8');
  const texts = screenTexts();

  /** The screen of the request, when it may be used by it; otherwise the request is answered. */
  const screenOf = (req: Request, res: Response): (ScreenSettings & { streams: Set<Response> }) | undefined => {
    const settings = served.get(req.params.key);
    if (!settings) return void res.status(404).send();
    if (settings.pin && !unlocked(req, settings.pin, req.params.key)) return void res.status(401).send();
    return settings;
  };

  RED.httpNode.get(`${CART_PATH}/:key`, (req: Request, res: Response) => {
    const settings = served.get(req.params.key);
    if (!settings) return void res.status(404).send();
    const base = req.originalUrl.split('?')[0].replace(/\/+$/, '');
    const locked = Boolean(settings.pin) && !unlocked(req, settings.pin!, req.params.key);
    res.set('cache-control', 'no-store');
    res.set(
      'content-security-policy',
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'",
    );
    res.type('html').send(cartPage({ title: settings.title, lang: settings.lang, volume: settings.volume, locked, base, texts }, script));
  });

  RED.httpNode.get(`${CART_PATH}/:key/events`, (req: Request, res: Response) => {
    const settings = screenOf(req, res);
    if (!settings) return;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    const send = (view: ScreenView): void => void res.write(`data: ${JSON.stringify(view)}\n\n`);
    // A screen that (re)connects sees what is shown, without the beeps it came with.
    const { beeps: _beeps, ...now } = settings.screen.view();
    res.write('retry: 1000\n\n');
    send(now);
    const unfollow = settings.screen.follow(send);
    const alive = setInterval(() => res.write(': alive\n\n'), KEEP_ALIVE_MS);
    settings.streams.add(res);
    res.on('close', () => {
      unfollow();
      clearInterval(alive);
      settings.streams.delete(res);
    });
  });

  RED.httpNode.post(`${CART_PATH}/:key/sign-in`, sameSiteJson(RED), async (req: Request, res: Response) => {
    const settings = screenOf(req, res);
    if (!settings) return;
    const body = await jsonBody(req);
    if (typeof body?.user !== 'string' || typeof body.password !== 'string') {
      return void res.status(400).json({ code: 'INVALID_REQUEST', message: RED._('device-fleet.errors.screen-sign-in') });
    }
    // Checked by the fleet's check-out node, as a flow's msg.user and msg.password: its answer is on the screen.
    if (!settings.screen.signIn(body.user, body.password)) {
      return void res.status(409).json({ code: 'INVALID_CONFIG', message: RED._('device-fleet.errors.screen-no-checkout') });
    }
    res.status(202).json({});
  });

  RED.httpNode.post(`${CART_PATH}/:key/pin`, sameSiteJson(RED), async (req: Request, res: Response) => {
    const settings = served.get(req.params.key);
    if (!settings?.pin) return void res.status(404).send();
    const client = req.ip ?? req.socket.remoteAddress ?? '';
    const verdict = throttle.verdict(client);
    if (verdict.refused) {
      res.set('retry-after', String(Math.ceil(verdict.retryAfterMs / 1000)));
      return void res.status(429).send();
    }
    const body = await jsonBody(req);
    if (typeof body?.pin !== 'string' || !same(body.pin, settings.pin)) {
      if (throttle.failed(client)) RED.log.warn(RED._('device-fleet.errors.screen-locked-out', { client }));
      await new Promise((resolve) => setTimeout(resolve, verdict.delayMs));
      return void res.status(401).send();
    }
    throttle.succeeded(client);
    const path = req.originalUrl.split('?')[0].replace(/\/pin\/*$/, '');
    res.cookie(COOKIE, token(settings.pin, req.params.key), { path, httpOnly: true, sameSite: 'strict', maxAge: 400 * 86_400_000 });
    res.status(204).send();
  });

  return {
    serve(keys, settings) {
      const entry = { ...settings, streams: new Set<Response>() };
      for (const key of keys) served.set(key, entry);
      return () => {
        for (const key of keys) if (served.get(key) === entry) served.delete(key);
        for (const stream of entry.streams) stream.end();
      };
    },
  };
}

/** The node whose catalog holds the screen's texts (`device-fleet.screen`). */
const OWNER = 'device-fleet';

/** The screen's texts in every language the package has, for the page to pick from. */
function screenTexts(): Record<string, unknown> {
  const languages = readdirSync(builtFile('nodes', OWNER, 'locales'));
  return Object.fromEntries(
    languages.map((lang) => {
      const catalog = JSON.parse(readFileSync(builtFile('nodes', OWNER, 'locales', lang, OWNER + '.json'), 'utf8')) as {
        'device-fleet': { screen: unknown };
      };
      return [lang, catalog['device-fleet'].screen];
    }),
  );
}

const token = (pin: string, key: string): string => createHmac('sha256', pin).update(`device-checkout cart screen ${key}`).digest('base64url');

function same(given: string, expected: string): boolean {
  const [a, b] = [Buffer.from(given), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether the request carries the cookie the screen's PIN earns. */
function unlocked(req: Request, pin: string, key: string): boolean {
  const cookies = (req.headers.cookie ?? '').split(';').map((part) => part.trim().split('='));
  const given = cookies.find(([name]) => name === COOKIE)?.[1];
  return given !== undefined && same(given, token(pin, key));
}

/** A small JSON request body (a sign-in, a PIN): undefined when it is not one. */
async function jsonBody(req: Request, limit = 4096): Promise<Record<string, unknown> | undefined> {
  if (req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) return req.body as Record<string, unknown>;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
