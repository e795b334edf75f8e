import { connect, type Socket } from 'node:net';
import { transportFor } from '../transports';

/** Connects to usbmuxd's UNIX socket (a registered stand-in's socket for its prefix). */
export async function openUsbSocket(source: string): Promise<Socket> {
  const stand = transportFor(source);
  const path = stand ? await stand.transports.usbSocket(stand.name) : source;
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => resolve(socket));
    socket.once('error', reject);
  });
}
