import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { auditCsv, auditJsonLines, auditQuery, byPerson, phoneNamesOf } from '../lib/fleet/fleet-view';
import { fleetOf } from '../shared/config-nodes';
import { numberField } from '../shared/defaults';
import { failMessage, showStatus } from '../shared/status';

export interface AuditExportDef extends NodeDef {
  fleet: string;
  /** `csv` or `jsonl`. */
  format?: string;
  /** Without `msg.from`: the last this many hours. */
  hours?: string;
}

interface AuditExportMessage extends NodeMessage {
  from?: unknown;
  to?: unknown;
  udid?: unknown;
  user?: unknown;
  filename?: string;
}

/** Dates as a message may carry them: ISO text, a Date, or ms since the epoch. */
const asText = (value: unknown): unknown => (value instanceof Date ? value.toISOString() : typeof value === 'number' ? new Date(value).toISOString() : value);

/**
 * The fleet's audit trail as a file for a report, a ticket or an archive: CSV (a header row;
 * formula-safe) or JSON lines in `msg.payload`, of a time range (`msg.from`, `msg.to`; by
 * default the last `hours`) and optionally one phone (`msg.udid`) or one person (`msg.user`).
 */
export default function (RED: NodeAPI): void {
  function AuditExport(this: Node, config: AuditExportDef): void {
    RED.nodes.createNode(this, config);
    const format = config.format === 'jsonl' ? 'jsonl' : 'csv';
    this.on('input', (msg: AuditExportMessage, send, done) => {
      const { fleet, unavailable } = fleetOf(RED, config.fleet);
      const fail = (err: CodedError) => failMessage(this, err, RED._('audit-export.status.failed', { code: err.code ?? 'ERROR' }), done);
      if (!fleet) return fail(unavailable ?? new CodedError('NO_FLEET', RED._('audit-export.errors.no-fleet')));
      Promise.resolve()
        .then(async () => {
          const hours = numberField('audit-export', config, 'hours');
          const query = auditQuery({
            from: asText(msg.from) ?? new Date(Date.now() - hours * 3_600_000).toISOString(),
            to: asText(msg.to),
            udid: msg.udid,
            user: msg.user,
          });
          const entries = byPerson(await fleet.store.audit(query.udid, query), query.user);
          msg.payload = format === 'jsonl' ? auditJsonLines(entries) : auditCsv(entries, phoneNamesOf(await fleet.store.devices()));
          msg.filename = `device-checkout-audit-${query.from!.slice(0, 10)}.${format}`;
          showStatus(this, 'ok', RED._('audit-export.status.done', { entries: entries.length }));
          send(msg);
          done();
        })
        .catch(fail);
    });
  }

  RED.nodes.registerType('audit-export', AuditExport);
}
