import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { PortEvent } from '../lib/hub/hub-connection';
import { attachToHub } from '../smart-hub/smart-hub';

export interface HubInputDef extends NodeDef {
  hub: string;
  fleet?: string;
}

export interface HubEventMessage extends NodeMessage {
  topic: 'dock' | 'unplug';
  payload: PortEvent & { hub: string };
  device: { hub: string; port: number };
}

/** Output 1 carries docks, output 2 unplugs. */
export default function (RED: NodeAPI): void {
  function HubInput(this: Node, config: HubInputDef): void {
    RED.nodes.createNode(this, config);
    const hub = attachToHub(RED, this, config.hub);
    if (!hub) return;
    const { hubNode, connection } = hub;

    const emit = (event: PortEvent): void => {
      const msg: HubEventMessage = {
        topic: event.event,
        payload: { ...event, hub: hubNode.hubName },
        device: { hub: hubNode.hubName, port: event.port },
      };
      this.send(event.event === 'dock' ? [msg, null] : [null, msg]);
    };
    connection.on('dock', emit);
    connection.on('unplug', emit);
    this.on('close', () => {
      connection.off('dock', emit);
      connection.off('unplug', emit);
    });
  }

  RED.nodes.registerType('hub-input', HubInput);
}
