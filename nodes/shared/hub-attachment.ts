import type { Node, NodeAPI } from 'node-red';
import type { HubConnection, HubStatus } from '../lib/hub/hub-connection';
import { hubOf, type SmartHubNode } from './config-nodes';
import { showStatus } from './status';

/** The status a hub-using node shows for its hub's connection. */
function showHubStatus(RED: NodeAPI, node: Node, hub: HubStatus): void {
  // Fully qualified keys: the text lives in the smart-hub's catalog, whichever node shows it.
  if (hub.status === 'connected')
    showStatus(node, 'ok', RED._('node-red-contrib-device-checkout/smart-hub:smart-hub.status.connected', { docked: hub.docked }));
  else if (hub.status === 'connecting') showStatus(node, 'waiting', RED._('node-red-contrib-device-checkout/smart-hub:smart-hub.status.connecting'));
  else showStatus(node, 'blocked', RED._('node-red-contrib-device-checkout/smart-hub:smart-hub.status.disconnected', { reason: hub.reason ?? '' }));
}

/**
 * Connects a node to its `smart-hub`: shows the hub's connection on the node's status and
 * lets go of the connection when the node closes. Undefined (and a red status) without a hub.
 */
export function attachToHub(RED: NodeAPI, node: Node, hubId: string): { hubNode: SmartHubNode; connection: HubConnection } | undefined {
  const hubNode = hubOf(RED, hubId);
  const connection = hubNode?.register(node);
  if (!hubNode || !connection) {
    showStatus(node, 'blocked', RED._('node-red-contrib-device-checkout/smart-hub:smart-hub.status.no-hub'));
    return undefined;
  }
  const onStatus = (status: HubStatus): void => showHubStatus(RED, node, status);
  connection.on('status', onStatus);
  onStatus(connection.status);
  node.on('close', async (done: () => void) => {
    connection.off('status', onStatus);
    await hubNode.deregister(node);
    done();
  });
  return { hubNode, connection };
}
