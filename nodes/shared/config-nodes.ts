import type { Node, NodeAPI } from 'node-red';
import type { CodedError } from '../lib/coded-error';
import type { Fleet } from '../lib/fleet/fleet';
import type { HubConnection } from '../lib/hub/hub-connection';
import type { MdmAdapter } from '../lib/mdm/mdm-adapter';

/**
 * The config nodes as the nodes that name them see them, and how they are looked up: a node
 * folder imports these from here, never another node's folder.
 */

export interface SmartHubNode extends Node {
  /** How events name this hub: the node's name, else its serial path. */
  hubName: string;
  /** The shared connection, opened by the first user; undefined when the config is bad. */
  register(user: Node): HubConnection | undefined;
  deregister(user: Node): Promise<void>;
}

export interface MdmServerNode<Credentials extends object = object> extends Node<Credentials> {
  /** The MDM's adapter, shared by every node naming the same server; undefined when the config is bad. */
  adapter?: MdmAdapter;
  /** What signs the webhooks one cart relays to the others of a shared fleet (the MDM's API key). */
  relaySecret?: string;
}

export interface DeviceFleetNode<Credentials extends object = object> extends Node<Credentials> {
  /** The cart's devices; undefined when the fleet cannot work at all (see `unavailable`). */
  fleet?: Fleet;
  /** Why the fleet cannot work at all (its file is damaged): every user fails with it. */
  unavailable?: CodedError;
}

/** The config node `id` names, if it is one of `type`. */
function configNode<T extends Node>(RED: NodeAPI, id: string | undefined, type: string): T | undefined {
  const node = id ? (RED.nodes.getNode(id) as T | null) : null;
  return node?.type === type ? node : undefined;
}

export const hubOf = (RED: NodeAPI, id: string | undefined) => configNode<SmartHubNode>(RED, id, 'smart-hub');

export const mdmServerOf = (RED: NodeAPI, id: string | undefined) => configNode<MdmServerNode>(RED, id, 'mdm-server');

/** The fleet a node names, or why there is none to use (NO_FLEET is the caller's to say). */
export function fleetOf(RED: NodeAPI, id: string | undefined): { fleet?: Fleet; unavailable?: CodedError } {
  const node = configNode<DeviceFleetNode>(RED, id, 'device-fleet');
  return { fleet: node?.fleet, unavailable: node?.unavailable };
}
