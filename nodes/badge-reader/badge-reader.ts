import { readdir } from 'node:fs/promises';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { formatBadge, type BadgeFormat, type BadgeProblem } from '../lib/badge/badge-format';
import { BadgeReader, type ReaderKind, type ReaderStatus } from '../lib/badge/badge-reader';
import { openReader } from '../lib/badge/open-reader';
import type { Read } from '../lib/badge/reads';
import { catalogText, CodedError } from '../lib/coded-error';
import { SharedPool } from '../lib/shared-pool';
import { useNodeRedCatalogs } from '../shared/catalogs';
import { numberField } from '../shared/defaults';
import { logAwayAndBack, showStatus } from '../shared/status';

export interface BadgeReaderDef extends NodeDef {
  kind: ReaderKind;
  path: string;
  baudRate: string;
  lineEnd: 'crlf' | 'etx';
  prefix: string;
  suffix: string;
  hexToDecimal: boolean;
  stripLeading: string;
  length: string;
}

/** One reader per device path across every flow, however many nodes name it. */
const readers = new SharedPool<BadgeReader>();
/** What the log says of a read that is not a badge id: never the read, which may be one. */
const PROBLEMS: Record<BadgeProblem, string> = {
  empty: 'badge-reader.problems.empty',
  'too-long': 'badge-reader.problems.too-long',
  unprintable: 'badge-reader.problems.unprintable',
  'not-hex': 'badge-reader.problems.not-hex',
};
/** Where keyboard readers appear on Linux, by a name that survives a replug. */
const INPUT_BY_ID = '/dev/input/by-id';

export default function (RED: NodeAPI): void {
  useNodeRedCatalogs(RED);
  function BadgeReaderNode(this: Node, config: BadgeReaderDef): void {
    RED.nodes.createNode(this, config);
    const kind: ReaderKind = config.kind === 'keyboard' ? 'keyboard' : 'serial';
    let format: BadgeFormat;
    let baudRate: number;
    try {
      if (!config.path) throw new CodedError('INVALID_CONFIG', catalogText('badge-reader.errors.no-path'));
      baudRate = numberField('badge-reader', config, 'baudRate');
      format = {
        prefix: config.prefix,
        suffix: config.suffix,
        hexToDecimal: config.hexToDecimal === true,
        stripLeading: numberField('badge-reader', config, 'stripLeading'),
        length: numberField('badge-reader', config, 'length'),
      };
    } catch (err) {
      showStatus(this, 'blocked', RED._('badge-reader.status.invalid'));
      this.error(RED._('badge-reader.errors.config', { message: (err as Error).message }));
      return;
    }
    const open = (path: string) => openReader(kind, path, baudRate);
    const reader = readers.acquire(config.path, () => new BadgeReader({ kind, path: config.path, open, lineEnd: config.lineEnd }));

    const logChange = logAwayAndBack({
      away: (reason) => this.warn(RED._('badge-reader.errors.away', { path: config.path, reason })),
      back: () => this.log(RED._('badge-reader.errors.back', { path: config.path })),
    });
    const onStatus = (change: ReaderStatus): void => {
      if (change.status === 'connected') showStatus(this, 'ok', RED._('badge-reader.status.ready'));
      else if (change.status === 'connecting') showStatus(this, 'waiting', RED._('badge-reader.status.connecting'));
      else showStatus(this, 'blocked', RED._('badge-reader.status.away', { reason: change.reason ?? '' }));
      logChange(change);
    };
    const onRead = (read: Read): void => {
      const formatted = 'text' in read ? formatBadge(read.text, format) : { problem: 'too-long' as const };
      const time = new Date().toLocaleTimeString();
      if ('problem' in formatted) {
        showStatus(this, 'failed', RED._('badge-reader.status.unread', { time }));
        this.warn(RED._(PROBLEMS[formatted.problem]));
        return;
      }
      showStatus(this, 'ok', RED._('badge-reader.status.read', { time }));
      this.send({ badge: formatted.id });
    };
    reader.on('status', onStatus).on('read', onRead);
    onStatus(reader.status);
    reader.start();

    this.on('close', async (done: () => void) => {
      reader.off('status', onStatus).off('read', onRead);
      await readers.release(config.path);
      done();
    });
  }

  RED.nodes.registerType('badge-reader', BadgeReaderNode);

  // Keyboard readers by their stable names; empty where the host has none or cannot list them.
  RED.httpAdmin.get('/device-checkout/input-devices', RED.auth.needsPermission('badge-reader.read'), (_req, res) => {
    void readdir(INPUT_BY_ID)
      .then((names) => names.filter((name) => name.endsWith('-event-kbd')).map((name) => ({ path: `${INPUT_BY_ID}/${name}` })))
      .catch(() => [])
      .then((devices) => res.json(devices));
  });
}
