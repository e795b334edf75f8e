import { connect, createServer, type Server, type Socket } from 'node:net';
import { freeLoopbackPort } from '../sim/listen';

/**
 * A TCP address on loopback that forwards to a target port, as a database's virtual IP or
 * HAProxy does: it can refuse (not listening), forward, and move to another target, cutting
 * every connection it carried, as a failover does.
 */
export class TcpForwarder {
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  private constructor(
    readonly port: number,
    private target: number,
  ) {
    this.server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => socket.destroy());
        socket.on('close', () => {
          this.sockets.delete(socket);
          (socket === client ? upstream : client).destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
  }

  /** A forwarder to `target` on a free port, refusing connections until `up()`. */
  static async create(target: number): Promise<TcpForwarder> {
    return new TcpForwarder(await freeLoopbackPort(), target);
  }

  up(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.port, '127.0.0.1', () => resolve()));
  }

  /** Cuts every connection and refuses new ones. */
  down(): Promise<void> {
    this.cut();
    return new Promise((resolve) => (this.server.listening ? this.server.close(() => resolve()) : resolve()));
  }

  /** Cuts every connection it carries and forwards new ones to `target`: the address moved. */
  moveTo(target: number): void {
    this.target = target;
    this.cut();
  }

  private cut(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}
