import type { Node, NodeAPI, NodeDef } from 'node-red';
import { HubConnection, type HubStatus } from '../lib/hub/hub-connection';
import { hubSettings } from '../lib/hub/hub-settings';
import { openHubLink } from '../lib/hub/open-link';
import { listSerialPorts } from '../lib/hub/serial-link';
import { SharedPool } from '../lib/shared-pool';

export interface SmartHubDef extends NodeDef {
  serialPort: string;
  baudRate: string;
  pollInterval: string;
  model: string;
}

export interface SmartHubNode extends Node {
  /** How events name this hub: the node's name, else its serial path. */
  hubName: string;
  /** The shared connection, opened by the first user; undefined when the config is bad. */
  register(user: Node): HubConnection | undefined;
  deregister(user: Node): Promise<void>;
}

/** One connection per serial path across every flow, however many config nodes name it. */
const connections = new SharedPool<HubConnection>();

/** The status a hub-using node shows for its hub's connection. */
export function hubStatus(RED: NodeAPI, hub: HubStatus): { fill: 'green' | 'yellow' | 'red'; shape: 'dot' | 'ring'; text: string } {
  // Fully qualified keys: the text lives in this node's catalog, whichever node shows it.
  if (hub.status === 'connected') {
    return { fill: 'green', shape: 'dot', text: RED._('node-red-contrib-device-checkout/smart-hub:smart-hub.status.connected', { docked: hub.docked }) };
  }
  if (hub.status === 'connecting') {
    return { fill: 'yellow', shape: 'ring', text: RED._('node-red-contrib-device-checkout/smart-hub:smart-hub.status.connecting') };
  }
  return { fill: 'red', shape: 'ring', text: RED._('node-red-contrib-device-checkout/smart-hub:smart-hub.status.disconnected', { reason: hub.reason ?? '' }) };
}

/**
 * Connects a node to its `smart-hub`: shows the hub's connection on the node's status and
 * lets go of the connection when the node closes. Undefined (and a red status) without a hub.
 */
export function attachToHub(RED: NodeAPI, node: Node, hubId: string): { hubNode: SmartHubNode; connection: HubConnection } | undefined {
  const hubNode = RED.nodes.getNode(hubId) as SmartHubNode | null;
  const connection = hubNode?.register(node);
  if (!hubNode || !connection) {
    node.status({ fill: 'red', shape: 'ring', text: RED._('node-red-contrib-device-checkout/smart-hub:smart-hub.status.no-hub') });
    return undefined;
  }
  const showStatus = (status: HubStatus): void => node.status(hubStatus(RED, status));
  connection.on('status', showStatus);
  showStatus(connection.status);
  node.on('close', async (done: () => void) => {
    connection.off('status', showStatus);
    await hubNode.deregister(node);
    done();
  });
  return { hubNode, connection };
}

export default function (RED: NodeAPI): void {
  function SmartHub(this: SmartHubNode, config: SmartHubDef): void {
    RED.nodes.createNode(this, config);
    this.hubName = config.name || config.serialPort;
    const users = new Set<string>();
    let settings: ReturnType<typeof hubSettings> | undefined;
    try {
      settings = hubSettings(config);
    } catch (err) {
      this.error(RED._('smart-hub.errors.config', { message: (err as Error).message }));
    }

    let connection: HubConnection | undefined;
    const onWarning = (err: Error): void => this.warn(RED._('smart-hub.errors.warning', { message: err.message }));

    // Each user holds one reference to the shared connection for as long as it runs.
    this.register = (user) => {
      if (!settings || users.has(user.id)) return connection;
      const { serialPort, baudRate, pollInterval, model } = settings;
      users.add(user.id);
      connection = connections.acquire(serialPort, () => new HubConnection({ path: serialPort, baudRate, pollInterval, model, openLink: openHubLink }));
      if (users.size === 1) connection.on('warning', onWarning);
      connection.start();
      return connection;
    };

    this.deregister = async (user) => {
      if (!settings || !users.delete(user.id)) return;
      if (users.size === 0) {
        connection?.off('warning', onWarning);
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
