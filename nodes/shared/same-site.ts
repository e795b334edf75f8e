import type { NextFunction, Request, Response } from 'express';
import type { NodeAPI } from 'node-red';

/**
 * An admin action comes as JSON from the editor's own page: an HTML form on another site (the
 * attack on an editor without adminAuth) can send neither JSON nor this site's Origin.
 */
export const sameSiteJson =
  (RED: NodeAPI) =>
  (req: Request, res: Response, next: NextFunction): void => {
    if (!req.is('application/json')) return void res.status(415).json({ code: 'INVALID_REQUEST', message: RED._('device-fleet.errors.not-json-request') });
    const origin = req.headers.origin;
    const hosts = [req.headers.host, req.headers['x-forwarded-host']].filter(Boolean);
    let from: string | undefined;
    try {
      from = origin === undefined ? undefined : new URL(origin).host;
    } catch {
      from = '';
    }
    if (req.headers['sec-fetch-site'] === 'cross-site' || (from !== undefined && !hosts.includes(from))) {
      return void res.status(403).json({ code: 'FOREIGN_ORIGIN', message: RED._('device-fleet.errors.foreign-origin') });
    }
    next();
  };
