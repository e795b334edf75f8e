import { registerTransports } from '../nodes/lib/transports';
import { simulatedHub } from './hub-registry';
import { simulatedReader } from './simulated-reader';
import { simulatedUsbmuxd } from './usbmuxd-server';

/**
 * Lets `sim:<name>` serial paths and USB sources reach the simulated hubs, badge readers and usbmuxd of this
 * process: the demo and the tests call it; the package never does.
 */
export function registerSimulatedCart(): void {
  registerTransports('sim:', {
    hub: async (name) => simulatedHub(name).connect(),
    reader: async (name) => simulatedReader(name).connect(),
    usbSocket: async (name) => (await simulatedUsbmuxd(name)).socketPath,
  });
}
