import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';

/**
 * Listens on loopback; a port already taken rejects with a sentence a person can act on
 * (instead of an unhandled EADDRINUSE), still coded EADDRINUSE for a caller that says more.
 */
export function listenOnLoopback(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException): void =>
      reject(
        err.code === 'EADDRINUSE'
          ? Object.assign(
              new Error(`port ${port} on 127.0.0.1 is already in use (another Node-RED or demo?): start with another PORT, e.g. PORT=1890 npm start`),
              {
                code: 'EADDRINUSE',
              },
            )
          : err,
      );
    server.once('error', failed);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', failed);
      resolve();
    });
  });
}

/** A loopback port nobody listens on (the system's pick), for a server started next. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A simulator's HTTP server on loopback (port 0: one the system picks), and the address it answers at. */
export async function serveOnLoopback(handle: (req: IncomingMessage, res: ServerResponse) => void, port = 0): Promise<{ server: Server; url: string }> {
  const server = createHttpServer(handle);
  await listenOnLoopback(server, port);
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Stops a simulator's server at once: its open connections are cut, not waited for. */
export async function stopServing(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}
