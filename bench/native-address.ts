import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freeLoopbackPort } from '../sim/listen';
import { sleep } from './stats';

/**
 * The database's moving address as a hospital has it, native and apart from everything else (a
 * virtual IP or HAProxy): socat forwarding a loopback port, a process per connection. Moving it
 * kills socat and every connection it carried, and starts it again on the new target. The
 * tests' `TcpForwarder` does the same in JavaScript, where at a hundred carts every database
 * byte of the bench would pass through the event loop of the bench's own MDM simulator.
 */
export class NativeAddress {
  private socat?: ChildProcess;

  private constructor(
    readonly port: number,
    private target: number,
  ) {}

  static async start(target: number): Promise<NativeAddress> {
    const address = new NativeAddress(await freeLoopbackPort(), target);
    await address.listen();
    return address;
  }

  /** Cuts every connection it carries and forwards new ones to `target`: the address moved. */
  async moveTo(target: number): Promise<void> {
    this.target = target;
    this.stop();
    await this.listen();
  }

  stop(): void {
    // socat forks a child per connection, all in the process group of the one listening.
    if (this.socat?.pid !== undefined && this.socat.exitCode === null) process.kill(-this.socat.pid, 'SIGKILL');
    this.socat = undefined;
  }

  private async listen(): Promise<void> {
    const socat = spawn('socat', [`TCP-LISTEN:${this.port},bind=127.0.0.1,reuseaddr,fork,backlog=1024`, `TCP:127.0.0.1:${this.target}`], {
      stdio: 'ignore',
      detached: true,
    });
    const failed = new Promise<never>((_, reject) =>
      socat.once('error', (err) => reject(new Error(`cannot run socat (apt-get install socat): ${err.message}`))),
    );
    this.socat = socat;
    for (let tries = 0; !(await Promise.race([accepts(this.port), failed])); tries++) {
      if (tries === 100) throw new Error(`socat did not listen on ${this.port} within 5 s`);
      await sleep(50);
    }
  }
}

/** Whether a connection to `port` on loopback is accepted (closed at once). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
