import type { Node, NodeAPI } from 'node-red';
import type { Device } from '../lib/device';

/** An Add Wi-Fi node whose settings another node uses (Return to Service's Wi-Fi profile). */
interface WifiSource extends Node {
  wifiProfileFor(device: Device): Record<string, unknown>;
}

/** Lets other nodes take `node`'s Wi-Fi profile, built for a device as the node itself builds it. */
export function offerWifiProfile(node: Node, build: (device: Device) => Record<string, unknown>): void {
  (node as WifiSource).wifiProfileFor = build;
}

/** The running Add Wi-Fi node `id`'s profile builder; undefined when no such node runs (deleted, disabled, without a fleet). */
export function wifiProfileOf(RED: NodeAPI, id: string): WifiSource['wifiProfileFor'] | undefined {
  const node = RED.nodes.getNode(id) as WifiSource | null;
  return node?.type === 'add-wifi' && typeof node.wifiProfileFor === 'function' ? node.wifiProfileFor : undefined;
}
