import type { Node, NodeAPI, NodeDef } from 'node-red';
import { HubConnection, type HubStatus } from '../lib/hub/hub-connection';
import { hubSettings } from '../lib/hub/hub-settings';
import { openHubLink } from '../lib/hub/open-link';
import { listSerialPorts } from '../lib/hub/serial-link';
import { SharedPool } from '../lib/shared-pool';
import { useNodeRedCatalogs } from '../shared/catalogs';
import type { SmartHubNode } from '../shared/config-nodes';
import { numberField } from '../shared/defaults';
import { logAwayAndBack } from '../shared/status';

export interface SmartHubDef extends NodeDef {
  serialPort: string;
  baudRate: string;
  pollInterval: string;
  model: string;
}

/** One connection per serial path across every flow, however many config nodes name it. */
const connections = new SharedPool<HubConnection>();

export default function (RED: NodeAPI): void {
  useNodeRedCatalogs(RED);
  function SmartHub(this: SmartHubNode, config: SmartHubDef): void {
    RED.nodes.createNode(this, config);
    this.hubName = config.name || config.serialPort;
    const users = new Set<string>();
    let settings: ReturnType<typeof hubSettings> | undefined;
    try {
      settings = hubSettings(config, {
        baudRate: numberField('smart-hub', config, 'baudRate'),
        pollInterval: numberField('smart-hub', config, 'pollInterval'),
      });
    } catch (err) {
      this.error(RED._('smart-hub.errors.config', { message: (err as Error).message }));
    }

    let connection: HubConnection | undefined;
    const onWarning = (err: Error): void => this.warn(RED._('smart-hub.errors.warning', { message: err.message }));
    const onStatus: (status: HubStatus) => void = logAwayAndBack({
      away: (reason) => this.warn(RED._('smart-hub.errors.away', { hub: this.hubName, reason })),
      back: () => this.log(RED._('smart-hub.errors.back', { hub: this.hubName })),
    });

    // Each user holds one reference to the shared connection for as long as it runs.
    this.register = (user) => {
      if (!settings || users.has(user.id)) return connection;
      const { serialPort, baudRate, pollInterval, model } = settings;
      users.add(user.id);
      connection = connections.acquire(serialPort, () => new HubConnection({ path: serialPort, baudRate, pollInterval, model, openLink: openHubLink }));
      if (users.size === 1) connection.on('warning', onWarning).on('status', onStatus);
      connection.start();
      return connection;
    };

    this.deregister = async (user) => {
      if (!settings || !users.delete(user.id)) return;
      if (users.size === 0) {
        connection?.off('warning', onWarning).off('status', onStatus);
        connection = undefined;
      }
      await connections.release(settings.serialPort);
    };

    this.on('close', async (done: () => void) => {
      for (const id of [...users]) await this.deregister({ id } as Node);
      done();
    });
  }

  RED.nodes.registerType('smart-hub', SmartHub);

  RED.httpAdmin.get('/device-checkout/serial-ports', RED.auth.needsPermission('smart-hub.read'), (_req, res) => {
    void listSerialPorts().then((ports) => res.json(ports));
  });
}
