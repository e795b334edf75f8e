import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Receives webhooks on loopback and hands each body's exact bytes and X-Hmac-Signature to
 * `deliver`, answering with the status it returns: what Node-RED's HTTP does for the
 * mdm-server node, for tests and benchmarks that run the nodes without HTTP.
 */
export async function webhookReceiver(deliver: (body: Buffer, signature: string | undefined) => number): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.statusCode = deliver(Buffer.concat(chunks), req.headers['x-hmac-signature'] as string | undefined);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
