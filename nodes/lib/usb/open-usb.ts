import { connect, type Socket } from 'node:net';
import { simulatedUsbmuxd } from '../../../sim/usbmuxd-server';
import { simName } from '../sim-name';

/** Connects to usbmuxd's UNIX socket (the simulated one for `sim:<name>`). */
export async function openUsbSocket(source: string): Promise<Socket> {
  const sim = simName(source);
  const path = sim ? (await simulatedUsbmuxd(sim)).socketPath : source;
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => resolve(socket));
    socket.once('error', reject);
  });
}
