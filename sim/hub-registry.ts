import { SimulatedHub, type SimulatedHubOptions } from './simulated-hub';

/** Simulated hubs by name, for `sim:<name>` serial paths in this process. */
const hubs = new Map<string, SimulatedHub>();

/** The simulated hub called `name`, created (with `options`) on first use. */
export function simulatedHub(name: string, options?: SimulatedHubOptions): SimulatedHub {
  let hub = hubs.get(name);
  if (!hub) {
    hub = new SimulatedHub(options);
    hubs.set(name, hub);
  }
  return hub;
}

/** Forgets a simulated hub; its open lines close as if the cable were pulled. */
export function removeSimulatedHub(name: string): void {
  hubs.get(name)?.disconnectAll();
  hubs.delete(name);
}
