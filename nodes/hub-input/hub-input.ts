import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { PortEvent } from '../lib/hub/hub-connection';
import type { LedState } from '../lib/hub/led-plan';
import type { Device } from '../lib/device';
import { fleetOf } from '../shared/config-nodes';
import { attachToHub } from '../shared/hub-attachment';

export interface HubInputDef extends NodeDef {
  hub: string;
  fleet?: string;
}

export interface HubEventMessage extends NodeMessage {
  topic: 'dock' | 'unplug';
  payload: PortEvent & { hub: string };
  device: Device & { hub: string; port: number };
}

const RECONCILE_AGAIN_MS = 5000;
/** What a port shows while its phone is being unlocked, or is unlocked, for a tap: green, blue, flashing white. */
const UNLOCKED_LEDS: LedState[] = ['granted', 'deploying', 'ready'];

/** Output 1 carries docks, output 2 unplugs. */
export default function (RED: NodeAPI): void {
  function HubInput(this: Node, config: HubInputDef): void {
    RED.nodes.createNode(this, config);
    const hub = attachToHub(RED, this, config.hub);
    if (!hub) return;
    const { hubNode, connection } = hub;
    const { fleet, unavailable } = fleetOf(RED, config.fleet);
    if (unavailable) this.warn(unavailable.message);
    // The fleet lights this hub's LEDs for its check-outs and check-ins.
    // Keyed by the hub's config node id: renaming a hub, or two hubs of one name, confuses nothing.
    const hubKey = { id: hubNode.id, name: hubNode.hubName };
    if (fleet) this.on('close', fleet.attachHub(hubKey, connection));

    /** `missed`: a dock or unplug that happened while Node-RED was not watching, found at the start. */
    const emit = async (event: PortEvent, missed = false): Promise<void> => {
      const place = { hubId: hubNode.id, hub: hubNode.hubName, port: event.port };
      // With a fleet, say which phone it is: a dock waits (at most the USB window) for usbmuxd.
      const identity = fleet ? await fleet.identifyEvent(event, place, missed) : {};
      if (identity.reason) this.warn(RED._('hub-input.errors.unidentified', { hub: place.hub, port: place.port, reason: identity.reason }));
      const device: HubEventMessage['device'] = { ...identity.device, ...place };
      const msg: HubEventMessage = { topic: event.event, payload: { ...event, hub: hubNode.hubName }, device };
      this.send(event.event === 'dock' ? [msg, null] : [null, msg]);
    };
    const onEvent = (event: PortEvent): void => void emit(event).catch((err: Error) => this.error(err));
    // What changed while nobody watched (Node-RED down, a redeploy) is played once, as the events it stands for.
    let again: NodeJS.Timeout | undefined;
    const reconcile = (docked: number[]): void =>
      void fleet
        ?.reconcile(
          hubKey,
          docked,
          ({ event, port }) => {
            const happened: PortEvent = { event, port, at: new Date().toISOString(), flags: [], current_mA: 0 };
            emit(happened, true).catch((err: Error) => this.error(err));
          },
          connection.portsShowing(UNLOCKED_LEDS),
        )
        .catch((err: Error) => {
          this.error(err);
          // Compared again with the hub's reading of then: until it is, no deadline of this hub is judged.
          clearTimeout(again);
          again = setTimeout(() => connection.hasBaseline && reconcile(connection.dockedPorts()), RECONCILE_AGAIN_MS);
        });
    connection.on('dock', onEvent);
    connection.on('unplug', onEvent);
    connection.on('baseline', reconcile);
    if (connection.hasBaseline) reconcile(connection.dockedPorts());
    // The fleet's records may have lost what happened (a database failover): compared with the hub's reading again.
    const uncompare = fleet?.onCompareAgain(() => connection.hasBaseline && reconcile(connection.dockedPorts()));
    this.on('close', () => {
      uncompare?.();
      clearTimeout(again);
      connection.off('dock', onEvent);
      connection.off('unplug', onEvent);
      connection.off('baseline', reconcile);
    });
  }

  RED.nodes.registerType('hub-input', HubInput);
}
