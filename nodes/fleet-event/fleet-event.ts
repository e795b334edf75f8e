import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { FLEET_EVENTS, type FleetEvent } from '../lib/fleet/fleet-events';
import { fleetOf } from '../shared/config-nodes';
import { showStatus } from '../shared/status';

/** Each event has a checkbox, on unless switched off: `returned-late` is field `returnedLate`. */
export type FleetEventDef = NodeDef & { fleet: string } & Partial<Record<string, unknown>>;

const fieldOf = (event: string): string => event.replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());

export interface FleetEventMessage extends NodeMessage {
  topic: FleetEvent['event'];
  payload: Omit<FleetEvent, 'device'>;
  /** The phone; none for `low-stock` (its cart's `payload.stock`). */
  device?: FleetEvent['device'];
}

/** What an admin wires to e-mail, chat or a ticket: one message per fleet event (see FLEET_EVENTS) she wants. */
export default function (RED: NodeAPI): void {
  function FleetEventNode(this: Node, config: FleetEventDef): void {
    RED.nodes.createNode(this, config);
    const { fleet, unavailable } = fleetOf(RED, config.fleet);
    if (!fleet) {
      showStatus(this, 'blocked', RED._(unavailable ? 'fleet-event.status.unavailable' : 'fleet-event.status.no-fleet'));
      return;
    }
    const wanted = new Set<string>(FLEET_EVENTS.filter((event) => config[fieldOf(event)] !== false));
    const stop = fleet.onEvent(({ device, ...event }) => {
      if (!wanted.has(event.event)) return;
      const msg: FleetEventMessage = { topic: event.event, payload: event, ...(device && { device }) };
      this.send(msg);
    });
    this.on('close', stop);
  }

  RED.nodes.registerType('fleet-event', FleetEventNode);
}
