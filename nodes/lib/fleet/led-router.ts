import type { Device } from '../device';
import type { CodedError } from '../coded-error';
import type { HubConnection } from '../hub/hub-connection';
import type { LedState } from '../hub/led-plan';

/** Where the LED router says things: a warning in the host's log, a catalog text. */
interface LedRouterOptions {
  warn(message: string): void;
  text: (key: string, vars?: Record<string, unknown>) => string;
}

/**
 * The LEDs of the hubs a fleet's hub-input nodes listen to, keyed by the hub's config node id
 * (names repeat and change): a device's LED goes to its port on its hub.
 */
export class LedRouter {
  private readonly hubs = new Map<string, HubConnection>();
  private readonly names = new Map<string, string>();
  private readonly unknown = new Set<string>();

  constructor(private readonly options: LedRouterOptions) {}

  /** Lets the fleet drive this hub's LEDs; returns what detaches it. */
  attach(hub: { id: string; name: string }, connection: HubConnection): () => void {
    this.hubs.set(hub.id, connection);
    this.names.set(hub.id, hub.name);
    return () => {
      if (this.hubs.get(hub.id) === connection) this.hubs.delete(hub.id);
    };
  }

  /** The hub's name as its config node gives it, for what the log says. */
  nameOf(hubId: string): string {
    return this.names.get(hubId) ?? hubId;
  }

  /** The config node id of the hub attached under `name`, if exactly one is. */
  idOf(name: string): string | undefined {
    const ids = [...this.names].filter(([, known]) => known === name).map(([id]) => id);
    return ids.length === 1 ? ids[0] : undefined;
  }

  /** Sets the LED of the device's port; a hub the fleet does not know is skipped with a warning (once). */
  async setLed(device: Device, led: LedState): Promise<void> {
    const hub = device.hubId === undefined ? undefined : this.hubs.get(device.hubId);
    if (!hub || device.port === undefined) {
      const name = String(device.hub);
      if (!this.unknown.has(name)) this.options.warn(this.options.text('device-fleet.errors.no-hub', { hub: name }));
      this.unknown.add(name);
      return;
    }
    // A hub that is reconnecting takes the LED when it is back: not a reason to fail a workflow.
    await hub.setLed(device.port, led).catch((err: CodedError) => {
      if (err.code !== 'HUB_DISCONNECTED') throw err;
      this.options.warn(err.message);
    });
  }
}
