import type { Node, NodeAPI, NodeDef } from 'node-red';
import { CodedError } from '../lib/coded-error';
import type { MdmAdapter } from '../lib/mdm/mdm-adapter';
import { NanoMdm } from '../lib/mdm/nanomdm';
import { SharedPool } from '../lib/shared-pool';
import { serveWebhook, stopWebhook } from './webhooks';

export interface MdmServerDef extends NodeDef {
  vendor: string;
  url: string;
  maxConcurrent: string;
  timeout: string;
  webhookPath: string;
}

export interface MdmCredentials {
  apiKey?: string;
  webhookSecret?: string;
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
}

export interface MdmServerNode extends Node<MdmCredentials> {
  /** The shared connection, opened by the first user; undefined when the config is bad. */
  register(user: Node): MdmAdapter | undefined;
  deregister(user: Node): Promise<void>;
}

export const VENDORS = ['nanomdm'] as const;

/** One connection per MDM (vendor and URL) across every flow. */
const connections = new SharedPool<MdmAdapter>();

function createAdapter(config: MdmServerDef, credentials: MdmCredentials): MdmAdapter {
  const url = (config.url ?? '').trim().replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s]+$/.test(url)) throw new CodedError('INVALID_CONFIG', `url "${config.url}" is not an http(s) URL`);
  const maxConcurrent = Number(config.maxConcurrent || 5);
  const timeout = Number(config.timeout || 30000);
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > 50) throw new CodedError('INVALID_CONFIG', 'maxConcurrent must be 1 to 50');
  if (!Number.isFinite(timeout) || timeout < 1000) throw new CodedError('INVALID_CONFIG', 'timeout must be at least 1000 ms');
  if (config.vendor === 'nanomdm') {
    if (!credentials.apiKey) throw new CodedError('INVALID_CONFIG', 'NanoMDM needs its API key (credentials)');
    return new NanoMdm({ url, apiKey: credentials.apiKey, webhookSecret: credentials.webhookSecret || undefined, maxConcurrent, timeout });
  }
  throw new CodedError('INVALID_CONFIG', `vendor "${config.vendor}" is not supported (use ${VENDORS.join(', ')})`);
}

export default function (RED: NodeAPI): void {
  function MdmServer(this: MdmServerNode, config: MdmServerDef): void {
    RED.nodes.createNode(this, config);
    const credentials = this.credentials ?? {};
    const key = `${config.vendor}|${config.url}`;
    const users = new Set<string>();
    let connection: MdmAdapter | undefined;
    let webhook: ((body: Buffer, signature: string | undefined) => number) | undefined;
    let problem: string | undefined;
    try {
      createAdapter(config, credentials); // validates; the shared one is made on first use
    } catch (err) {
      problem = (err as Error).message;
      this.error(RED._('mdm-server.errors.config', { message: problem }));
    }

    this.register = (user) => {
      if (problem) return undefined;
      if (!users.has(user.id)) {
        users.add(user.id);
        connection = connections.acquire(key, () => createAdapter(config, credentials));
        if (users.size === 1 && connection.handleWebhook) {
          const adapter = connection;
          webhook = (body, signature) => adapter.handleWebhook!(body, signature);
          if (!serveWebhook(RED, config.webhookPath || 'device-checkout/webhook', webhook)) this.warn(RED._('mdm-server.errors.no-webhook'));
        }
      }
      return connection;
    };

    this.deregister = async (user) => {
      if (!users.delete(user.id)) return;
      if (users.size === 0) {
        if (webhook) stopWebhook(RED, config.webhookPath || 'device-checkout/webhook', webhook);
        webhook = undefined;
        connection = undefined;
      }
      await connections.release(key);
    };

    this.on('close', async (done: () => void) => {
      for (const id of [...users]) await this.deregister({ id } as Node);
      done();
    });
  }

  RED.nodes.registerType<MdmServerNode, MdmServerDef, object, MdmCredentials>('mdm-server', MdmServer, {
    credentials: {
      apiKey: { type: 'password' },
      webhookSecret: { type: 'password' },
      clientId: { type: 'text' },
      clientSecret: { type: 'password' },
      username: { type: 'text' },
      password: { type: 'password' },
    },
  });
}
