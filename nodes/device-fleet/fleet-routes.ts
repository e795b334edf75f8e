import { timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { NodeAPI } from 'node-red';
import type { CodedError } from '../lib/coded-error';
import { meaning } from '../lib/error-codes';
import { FleetDirectory } from '../lib/fleet/fleet-directory';
import { AUDIT_CSV_HEADER, auditCsvRows, auditJsonLines, auditQuery, wardPage, type FleetRow, type PhoneNames } from '../lib/fleet/fleet-view';
import type { AuditEntry } from '../lib/fleet/fleet-store';
import { figureRequest, tableCsv, type FigureRequest } from '../lib/fleet/insights';
import { LoginThrottle } from '../lib/login-throttle';
import { builtFile } from '../lib/package-root';
import { sameSiteJson } from '../shared/same-site';

/** Where the editor's fleet view hears of each changed phone (one row per message). */
const DEVICE_TOPIC = 'device-checkout/device';
/** Every row to be read again (changes made while the database was away were not told one by one). */
const RELOAD_TOPIC = 'device-checkout/reload';

/** Chart.js's browser build, as the build bundles it (scripts/copy-assets.js). */
const CHART_JS = builtFile('vendor', 'chart.umd.min.js');

/** Each fleet's ward page on Node-RED's HTTP (httpNodeRoot) is at this path and the fleet's id. */
export const WARD_PATH = '/device-checkout/ward';

/** Basic auth for the ward page, when its fleet sets one. */
export interface WardLogin {
  user?: string;
  password?: string;
}

export interface FleetRoutes {
  directory: FleetDirectory;
  /**
   * Serves the fleet's ward page at WARD_PATH/<id> (with its login, if any) until the returned
   * function is called. A login with a user and no password lets nobody in.
   */
  serveWard(id: string, login: WardLogin): () => void;
}

/**
 * The fleet view's endpoints on the admin API, each behind a permission
 * (`device-checkout.read` to see, `device-checkout.write` to act: with adminAuth a read-only
 * user sees and cannot act, an anonymous one gets nothing); each changed phone published to
 * the editor on `device-checkout/device`; the ward page on the node HTTP.
 */
export function fleetRoutes(RED: NodeAPI): FleetRoutes {
  const directory = new FleetDirectory();
  const wards = new Map<string, WardLogin>();
  const throttle = new LoginThrottle();
  const read = RED.auth.needsPermission('device-checkout.read');
  const write = RED.auth.needsPermission('device-checkout.write');
  const failed = (res: Response) => (err: CodedError) => {
    res.status(meaning(err.code).http).json({ code: err.code ?? 'ERROR', message: err.message });
  };

  directory.on('row', (row: FleetRow) => RED.comms.publish(DEVICE_TOPIC, row as never, false));
  directory.on('stale', () => RED.comms.publish(RELOAD_TOPIC, {} as never, false));

  RED.httpAdmin.get('/device-checkout/devices', read, (_req: Request, res: Response) => {
    // One fleet whose database refuses is said by name; every other fleet is still listed.
    const unreachable: { fleet: string; name: string; code: string; message: string }[] = [];
    const nameOf = (id: string) => (RED.nodes.getNode(id) as { name?: string } | null)?.name || id;
    directory
      .rows(undefined, (id, err) => unreachable.push({ fleet: id, name: nameOf(id), code: (err as CodedError).code ?? 'ERROR', message: err.message }))
      .then((devices) => res.json({ devices, unreachable }), failed(res));
  });
  RED.httpAdmin.get('/device-checkout/devices/:udid/audit', read, (req: Request, res: Response) => {
    directory.trail(req.params.udid).then((entries) => res.json({ entries }), failed(res));
  });
  // Streamed a page at a time: a year's export holds one page in memory, not the year.
  RED.httpAdmin.get('/device-checkout/audit', read, async (req: Request, res: Response) => {
    let pages: AsyncIterator<AuditEntry[]>;
    let first: IteratorResult<AuditEntry[]>;
    let phones: PhoneNames;
    try {
      pages = directory.auditPages(auditQuery(req.query))[Symbol.asyncIterator]();
      // The first page before the headers: a bad query or a store away still answers with its code.
      [first, phones] = await Promise.all([pages.next(), directory.phoneNames()]);
    } catch (err) {
      return failed(res)(err as CodedError);
    }
    const lines = req.query.format === 'jsonl';
    res.set('content-type', lines ? 'application/x-ndjson; charset=utf-8' : 'text/csv; charset=utf-8');
    res.set('content-disposition', `attachment; filename="device-checkout-audit.${lines ? 'jsonl' : 'csv'}"`);
    if (!lines) res.write(AUDIT_CSV_HEADER);
    try {
      for (let page = first; !page.done; page = await pages.next()) {
        const written = res.write(lines ? auditJsonLines(page.value) : auditCsvRows(page.value, phones));
        if (!written) await drainedOrGone(res);
        if (res.destroyed) return void (await pages.return?.()); // the download was cancelled
      }
      res.end();
    } catch (err) {
      // Halfway, the status is sent: the download is cut short, and the log says why.
      RED.log.warn(RED._('device-fleet.errors.export-cut', { message: (err as Error).message }));
      res.destroy(err as Error);
    }
  });
  // Each insights figure as JSON (what the fleet tab draws) or CSV (its table); the people's for
  // those who may act (an admin), not for every user who may look.
  RED.httpAdmin.get('/device-checkout/insights/people', write);
  RED.httpAdmin.get('/device-checkout/insights/:figure', read, (req: Request, res: Response) => {
    let request: FigureRequest;
    try {
      request = figureRequest(req.params.figure, req.query);
    } catch (err) {
      return failed(res)(err as CodedError);
    }
    directory.figure(String(req.query.fleet ?? ''), request).then((answer) => {
      if (req.query.format !== 'csv') return void res.json(answer);
      res.set('content-type', 'text/csv; charset=utf-8');
      res.set('content-disposition', `attachment; filename="device-checkout-${answer.figure}-${answer.range}.csv"`);
      res.send(tableCsv(answer));
    }, failed(res));
  });
  // A fleet's cart at its next shift change, above the insights' figures; empty without shift changes.
  RED.httpAdmin.get('/device-checkout/readiness/:fleet', read, (req: Request, res: Response) => {
    directory.readiness(req.params.fleet).then((readiness) => res.json(readiness ? { ...readiness, at: readiness.at.toISOString() } : {}), failed(res));
  });
  // The insights' charts: Chart.js as the package ships it (the editor may have no internet).
  RED.httpAdmin.get('/device-checkout/chart.js', read, (_req: Request, res: Response) => res.sendFile(CHART_JS));
  RED.httpAdmin.post('/device-checkout/devices/:udid/:action', write, sameSiteJson(RED), (req: Request, res: Response) => {
    const who = (req as Request & { user?: { username?: string } }).user?.username ?? 'admin';
    const request = (req.body ?? {}) as object;
    // Locate answers where the phone is, with its row.
    if (req.params.action === 'locate')
      return void directory.locate(req.params.udid, request, who).then(({ device, location }) => res.json({ ...location, device }), failed(res));
    directory.act(req.params.udid, req.params.action, request, who).then((device) => res.json({ device }), failed(res));
  });

  RED.httpNode.get(`${WARD_PATH}/:fleet`, async (req: Request, res: Response) => {
    const fleet = req.params.fleet;
    const login = wards.get(fleet);
    if (!login) return void res.status(404).send();
    if (login.user || login.password) {
      const client = req.ip ?? req.socket.remoteAddress ?? '';
      const verdict = throttle.verdict(client);
      if (verdict.refused) {
        res.set('retry-after', String(Math.ceil(verdict.retryAfterMs / 1000)));
        return void res.status(429).send();
      }
      if (!loggedIn(req, login)) {
        if (throttle.failed(client)) RED.log.warn(RED._('device-fleet.errors.ward-locked-out', { client }));
        await new Promise((resolve) => setTimeout(resolve, verdict.delayMs));
        res.set('www-authenticate', 'Basic realm="device-checkout ward", charset="UTF-8"');
        return void res.status(401).send();
      }
      throttle.succeeded(client);
    }
    const texts = {
      title: RED._('device-fleet.ward.title'),
      empty: RED._('device-fleet.ward.empty'),
      overdue: RED._('device-fleet.ward.overdue'),
      updated: RED._('device-fleet.ward.updated'),
      columns: {
        user: RED._('device-fleet.ward.user'),
        phone: RED._('device-fleet.ward.phone'),
        cart: RED._('device-fleet.ward.cart'),
        since: RED._('device-fleet.ward.since'),
      },
    };
    // A page that cannot be made is answered with the error, never left hanging.
    Promise.all([directory.rows((id) => id === fleet), directory.readiness(fleet)])
      .then(([rows, readiness]) => {
        const ready =
          readiness &&
          RED._('device-fleet.ward.readiness', { ready: readiness.ready, docked: readiness.docked, shift: readiness.at.toTimeString().slice(0, 5) });
        res.set('cache-control', 'no-store');
        res.type('html').send(wardPage(rows, { ...texts, ...(ready && { readiness: ready }) }, new Date(), RED._('device-fleet.ward.lang')));
      })
      .catch(failed(res));
  });

  return {
    directory,
    serveWard(id, login) {
      wards.set(id, login);
      return () => void wards.delete(id);
    },
  };
}

/** Resolves when the client has taken what was written, or has gone. */
function drainedOrGone(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

/** Whether the request carries this login (compared in constant time); a login without a password matches nothing. */
function loggedIn(req: Request, login: WardLogin): boolean {
  if (!login.user || !login.password) return false;
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return false;
  const given = Buffer.from(Buffer.from(header.slice(6), 'base64').toString('utf8'));
  const expected = Buffer.from(`${login.user ?? ''}:${login.password ?? ''}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
