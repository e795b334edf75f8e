import { timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { NodeAPI } from 'node-red';
import type { CodedError } from '../lib/coded-error';
import { FleetDirectory } from '../lib/fleet/fleet-directory';
import { auditCsv, auditJsonLines, auditQuery, wardPage, type FleetRow } from '../lib/fleet/fleet-view';

/** Where the editor's fleet view hears of each changed phone (one row per message). */
export const DEVICE_TOPIC = 'device-checkout/device';

/** The ward's page on Node-RED's HTTP (httpNodeRoot), for the fleets that serve it. */
export const WARD_PATH = '/device-checkout/ward';

/** Basic auth for the ward page, when its fleet sets one. */
export interface WardLogin {
  user?: string;
  password?: string;
}

const STATUS_OF: Record<string, number> = {
  DEVICE_NOT_FOUND: 404,
  INVALID_ACTION: 400,
  INVALID_ATTRIBUTE: 400,
  INVALID_QUERY: 400,
  INVALID_REASON: 400,
  INVALID_REQUEST: 400,
  INVALID_STATUS: 400,
  NOT_LOST: 409,
  NOT_FAILED: 409,
  NO_MDM: 409,
  INVALID_CONFIG: 409,
  DEVICE_TIMEOUT: 504,
  STORE_UNAVAILABLE: 503,
};

export interface FleetRoutes {
  directory: FleetDirectory;
  /** Serves the ward page for a fleet (with its login, if any) until the returned function is called. */
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
  const read = RED.auth.needsPermission('device-checkout.read');
  const write = RED.auth.needsPermission('device-checkout.write');
  const failed = (res: Response) => (err: CodedError) => {
    const status = STATUS_OF[err.code ?? ''] ?? 500;
    res.status(status).json({ code: err.code ?? 'ERROR', message: err.message });
  };

  directory.on('row', (row: FleetRow) => RED.comms.publish(DEVICE_TOPIC, row as never, false));

  RED.httpAdmin.get('/device-checkout/devices', read, (_req: Request, res: Response) => {
    directory.rows().then((devices) => res.json({ devices }), failed(res));
  });
  RED.httpAdmin.get('/device-checkout/devices/:udid/audit', read, (req: Request, res: Response) => {
    directory.trail(req.params.udid).then((entries) => res.json({ entries }), failed(res));
  });
  RED.httpAdmin.get('/device-checkout/audit', read, (req: Request, res: Response) => {
    Promise.resolve()
      .then(() => directory.audit(auditQuery(req.query)))
      .then((entries) => {
        const lines = req.query.format === 'jsonl';
        res.set('content-type', lines ? 'application/x-ndjson; charset=utf-8' : 'text/csv; charset=utf-8');
        res.set('content-disposition', `attachment; filename="device-checkout-audit.${lines ? 'jsonl' : 'csv'}"`);
        res.send(lines ? auditJsonLines(entries) : auditCsv(entries));
      }, failed(res));
  });
  RED.httpAdmin.post('/device-checkout/devices/:udid/:action', write, (req: Request, res: Response) => {
    const who = (req as Request & { user?: { username?: string } }).user?.username ?? 'admin';
    directory.act(req.params.udid, req.params.action, (req.body ?? {}) as object, who).then((device) => res.json({ device }), failed(res));
  });

  RED.httpNode.get(WARD_PATH, (req: Request, res: Response) => {
    if (wards.size === 0) return void res.status(404).send();
    const logins = [...wards.values()].filter((login) => login.user || login.password);
    if (logins.length > 0 && !logins.some((login) => loggedIn(req, login))) {
      res.set('www-authenticate', 'Basic realm="device-checkout ward", charset="UTF-8"');
      return void res.status(401).send();
    }
    const texts = {
      title: RED._('device-fleet.ward.title'),
      empty: RED._('device-fleet.ward.empty'),
      overdue: RED._('device-fleet.ward.overdue'),
      updated: RED._('device-fleet.ward.updated'),
      columns: { user: RED._('device-fleet.ward.user'), phone: RED._('device-fleet.ward.phone'), cart: RED._('device-fleet.ward.cart'), since: RED._('device-fleet.ward.since') },
    };
    directory.rows((id) => wards.has(id)).then((rows) => {
      res.set('cache-control', 'no-store');
      res.type('html').send(wardPage(rows, texts, new Date(), RED._('device-fleet.ward.lang')));
    }, failed(res));
  });

  return {
    directory,
    serveWard(id, login) {
      wards.set(id, login);
      return () => void wards.delete(id);
    },
  };
}

/** Whether the request carries this login (compared in constant time). */
function loggedIn(req: Request, login: WardLogin): boolean {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return false;
  const given = Buffer.from(Buffer.from(header.slice(6), 'base64').toString('utf8'));
  const expected = Buffer.from(`${login.user ?? ''}:${login.password ?? ''}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
