import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import type { NodeAPI, NodeDef } from 'node-red';
import { CodedError } from '../lib/coded-error';
import type { MdmAdapter } from '../lib/mdm/mdm-adapter';
import { Intune } from '../lib/mdm/intune';
import { JamfPro } from '../lib/mdm/jamf';
import { EnrolmentVault } from '../lib/mdm/enrolment-vault';
import { NanoMdm } from '../lib/mdm/nanomdm';
import { WorkspaceOne } from '../lib/mdm/workspace-one';
import { SharedPool } from '../lib/shared-pool';
import { serveWebhook, stopWebhook } from './webhooks';
import { useNodeRedCatalogs } from '../shared/catalogs';
import { sameSiteJson } from '../shared/same-site';
import type { MdmServerNode } from '../shared/config-nodes';
import { defaultOf, numberField } from '../shared/defaults';

export interface MdmServerDef extends NodeDef {
  vendor: string;
  url: string;
  maxConcurrent: string;
  timeout: string;
  webhookPath: string;
  /** Jamf Pro: how often a sent command's state is read back, ms. */
  pollInterval?: string;
  /** NanoMDM without a webhook secret: take unsigned webhooks (anyone who reaches the URL could send one). */
  acceptUnsigned?: boolean;
  /** Workspace ONE: the region's OAuth token endpoint (e.g. https://na.uemauth.vmwservices.com/connect/token); Intune: the Entra ID login host. */
  tokenUrl?: string;
  /** Intune: the Entra ID tenant, and the groups a phone moves between as it is checked out and locked. */
  tenantId?: string;
  checkedOutGroup?: string;
  lockedGroup?: string;
}

interface MdmCredentials {
  apiKey?: string;
  webhookSecret?: string;
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
  /** Workspace ONE: the tenant's API key (aw-tenant-code). */
  tenantCode?: string;
}

type MdmServer = MdmServerNode<MdmCredentials>;

const VENDORS = ['nanomdm', 'jamf', 'workspace-one', 'intune'];
/** Intune's Entra ID login host when the dialog leaves it empty (a national cloud has its own). */
const ENTRA_LOGIN = 'https://login.microsoftonline.com';

/** One adapter per MDM (vendor and URL) across every flow. */
const adapters = new SharedPool<MdmAdapter>();

type Text = (key: string, vars?: Record<string, string | number>) => string;

function createAdapter(config: MdmServerDef, credentials: MdmCredentials, dataDir: string, warn: (message: string) => void, text: Text): MdmAdapter {
  const url = (config.url ?? '').trim().replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s]+$/.test(url)) throw new CodedError('INVALID_CONFIG', text('mdm-server.errors.url', { url: config.url }));
  const maxConcurrent = numberField('mdm-server', config, 'maxConcurrent');
  const timeout = numberField('mdm-server', config, 'timeout');
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > 50)
    throw new CodedError('INVALID_CONFIG', text('mdm-server.errors.max-concurrent'));
  if (!Number.isFinite(timeout) || timeout < 1000) throw new CodedError('INVALID_CONFIG', text('mdm-server.errors.timeout'));
  if (config.vendor === 'nanomdm') {
    if (!credentials.apiKey) throw new CodedError('INVALID_CONFIG', text('mdm-server.errors.no-api-key'));
    // One file per NanoMDM (by URL), sealed with its API key: serials and unlock tokens survive a restart.
    const vault = new EnrolmentVault(
      join(dataDir, `nanomdm-${createHash('sha256').update(url).digest('hex').slice(0, 16)}.enrolments.json`),
      credentials.apiKey,
    );
    const webhookSecret = credentials.webhookSecret || undefined;
    const nano = new NanoMdm({ url, apiKey: credentials.apiKey, webhookSecret, acceptUnsigned: config.acceptUnsigned === true, maxConcurrent, timeout, vault });
    vault.notices.forEach(warn);
    return nano;
  }
  if (config.vendor === 'jamf') {
    const { clientId, clientSecret, username, password } = credentials;
    return new JamfPro({
      url,
      clientId,
      clientSecret,
      username,
      password,
      maxConcurrent,
      timeout,
      pollInterval: numberField('mdm-server', config, 'pollInterval'),
    });
  }
  if (config.vendor === 'workspace-one') {
    const { clientId, clientSecret, username, password, tenantCode = '' } = credentials;
    const pollInterval = numberField('mdm-server', config, 'pollInterval');
    return new WorkspaceOne({
      url,
      tokenUrl: config.tokenUrl?.trim(),
      tenantCode,
      clientId,
      clientSecret,
      username,
      password,
      maxConcurrent,
      timeout,
      pollInterval,
    });
  }
  if (config.vendor === 'intune') {
    const { clientId = '', clientSecret = '' } = credentials;
    return new Intune({
      url,
      tokenUrl: config.tokenUrl?.trim() || ENTRA_LOGIN,
      tenantId: (config.tenantId ?? '').trim(),
      clientId,
      clientSecret,
      checkedOutGroup: config.checkedOutGroup?.trim() || undefined,
      lockedGroup: config.lockedGroup?.trim() || undefined,
      maxConcurrent,
      timeout,
      pollInterval: numberField('mdm-server', config, 'pollInterval'),
    });
  }
  throw new CodedError('INVALID_CONFIG', text('mdm-server.errors.vendor', { vendor: config.vendor, vendors: VENDORS.join(', ') }));
}

/** What the editor's Test connection sends: the dialog's fields as they are now. */
interface ConnectionTest extends Partial<MdmServerDef> {
  /** The node being edited, whose saved secrets stand in for the ones the dialog shows as unchanged. */
  id?: string;
  credentials?: MdmCredentials;
}

/** A password field the editor shows as set without sending it back. */
const UNCHANGED = '__PWRD__';

export default function (RED: NodeAPI): void {
  useNodeRedCatalogs(RED);

  // Test connection: a throwaway adapter with the dialog's settings logs in and reads once.
  RED.httpAdmin.post(
    '/device-checkout/mdm-server/test',
    RED.auth.needsPermission('mdm-server.write'),
    sameSiteJson(RED),
    async (req: Request, res: Response) => {
      const { id, credentials = {}, ...fields } = (req.body ?? {}) as ConnectionTest;
      if (fields.vendor === 'nanomdm') return void res.json({ ok: true, message: RED._('mdm-server.test.no-check') });
      const saved = ((id && RED.nodes.getCredentials(id)) || {}) as MdmCredentials;
      const secrets = Object.fromEntries(
        Object.entries({ ...saved, ...credentials }).map(([name, value]) => [name, value === UNCHANGED ? saved[name as keyof MdmCredentials] : value]),
      ) as MdmCredentials;
      const config = { maxConcurrent: '1', timeout: '10000', ...fields } as MdmServerDef;
      let adapter: MdmAdapter | undefined;
      try {
        adapter = createAdapter(config, secrets, '', () => undefined, RED._);
        await adapter.checkConnection?.();
        res.json({ ok: true, message: RED._('mdm-server.test.ok', { vendor: adapter.vendor }) });
      } catch (err) {
        const { code = 'ERROR', message } = err as CodedError;
        res.json({ ok: false, code, message: RED._('mdm-server.test.failed', { code, message }) });
      } finally {
        await adapter?.close();
      }
    },
  );

  function MdmServer(this: MdmServer, config: MdmServerDef): void {
    RED.nodes.createNode(this, config);
    this.relaySecret = this.credentials?.apiKey;
    const key = `${config.vendor}|${config.url}`;
    const webhookPath = config.webhookPath || String(defaultOf('mdm-server', 'webhookPath'));
    let adapter: MdmAdapter;
    try {
      adapter = this.adapter = adapters.acquire(key, () =>
        createAdapter(config, this.credentials ?? {}, join(RED.settings.userDir ?? '.', 'device-checkout'), (m) => this.warn(m), RED._),
      );
    } catch (err) {
      this.error(RED._('mdm-server.errors.config', { message: (err as Error).message }));
      return;
    }
    // Refused webhooks, a disk that refuses the enrolment vault: said at most once a minute per kind.
    const warnedAt = new Map<string, number>();
    const onWarning = (err: Error & { code?: string }): void => {
      const kind = err.code ?? err.message;
      if (Date.now() - (warnedAt.get(kind) ?? -Infinity) < 60_000) return;
      warnedAt.set(kind, Date.now());
      this.warn(RED._('mdm-server.errors.warning', { message: err.message }));
    };
    adapter.on('warning', onWarning);
    // Served for as long as the node exists, not only while actions run: NanoMDM cannot be
    // asked later for the serial numbers and unlock tokens its check-ins carry.
    const webhook = adapter.handleWebhook?.bind(adapter);
    const served = webhook ? serveWebhook(RED, webhookPath, adapter, webhook) : 'unsupported';
    if (webhook && served === 'unsupported') this.warn(RED._('mdm-server.errors.no-webhook'));
    if (served === 'taken') this.error(RED._('mdm-server.errors.webhook-taken', { path: webhookPath }));
    if (webhook && !this.credentials?.webhookSecret)
      this.warn(RED._(config.acceptUnsigned ? 'mdm-server.errors.unsigned-accepted' : 'mdm-server.errors.unsigned-refused'));

    this.on('close', async (done: () => void) => {
      adapter.off('warning', onWarning);
      if (served !== 'taken') stopWebhook(RED, webhookPath, adapter);
      await adapters.release(key);
      done();
    });
  }

  RED.nodes.registerType<MdmServer, MdmServerDef, object, MdmCredentials>('mdm-server', MdmServer, {
    credentials: {
      apiKey: { type: 'password' },
      webhookSecret: { type: 'password' },
      clientId: { type: 'text' },
      clientSecret: { type: 'password' },
      username: { type: 'text' },
      password: { type: 'password' },
      tenantCode: { type: 'password' },
    },
  });
}
