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
