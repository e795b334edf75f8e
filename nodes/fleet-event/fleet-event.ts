import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { FleetEvent } from '../lib/fleet/fleet';
import { fleetOf } from '../device-fleet/device-fleet';
import { showStatus } from '../shared/status';

export interface FleetEventDef extends NodeDef {
  fleet: string;
  overdue?: boolean;
  failed?: boolean;
}

export interface FleetEventMessage extends NodeMessage {
  topic: FleetEvent['event'];
  payload: Omit<FleetEvent, 'device'>;
  device: FleetEvent['device'];
}

/** What an admin wires to e-mail, chat or a ticket: a phone Overdue, or one a workflow gave up on (Failed). */
export default function (RED: NodeAPI): void {
  function FleetEventNode(this: Node, config: FleetEventDef): void {
    RED.nodes.createNode(this, config);
    const { fleet, unavailable } = fleetOf(RED, config.fleet);
    if (!fleet) {
      showStatus(this, 'blocked', RED._(unavailable ? 'fleet-event.status.unavailable' : 'fleet-event.status.no-fleet'));
      return;
    }
    const wanted = new Set<FleetEvent['event']>([...(config.overdue !== false ? ['overdue' as const] : []), ...(config.failed !== false ? ['failed' as const] : [])]);
    const stop = fleet.onEvent(({ device, ...event }) => {
      if (!wanted.has(event.event)) return;
      const msg: FleetEventMessage = { topic: event.event, payload: event, device };
      this.send(msg);
    });
    this.on('close', stop);
  }

  RED.nodes.registerType('fleet-event', FleetEventNode);
}
