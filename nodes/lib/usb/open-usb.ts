import { connect, type Socket } from 'node:net';
import { simulatedUsbmuxd } from '../../../sim/usbmuxd-server';

/** USB sources starting with this name a simulated usbmuxd in this process. */
export const SIM_PREFIX = 'sim:';

/** Connects to usbmuxd's UNIX socket (the simulated one for `sim:<name>`). */
export async function openUsbSocket(source: string): Promise<Socket> {
  const path = source.startsWith(SIM_PREFIX) ? (await simulatedUsbmuxd(source.slice(SIM_PREFIX.length))).socketPath : source;
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => resolve(socket));
    socket.once('error', reject);
  });
}
