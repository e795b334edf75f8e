import { PtyPair } from './pty-pair';
import { SimulatedHub, type SimulatedHubOptions } from './simulated-hub';

/**
 * A simulated hub behind a real pseudo-terminal pair (see `PtyPair`): the host opens
 * `hostPath` with the real serialport binding, exactly as it would a USB hub. Stopping it
 * makes the path disappear, like a pulled cable.
 */
export class PtyHub {
  private pair?: PtyPair;

  constructor(
    readonly hub: SimulatedHub,
    readonly hostPath: string,
    private readonly simPath = `${hostPath}.sim`,
  ) {}

  static async start(hostPath: string, options?: SimulatedHubOptions): Promise<PtyHub> {
    const pty = new PtyHub(new SimulatedHub(options), hostPath);
    await pty.start();
    return pty;
  }

  async start(): Promise<void> {
    const pair = await PtyPair.start(this.hostPath, this.simPath);
    this.pair = pair;
    const session = this.hub.connect();
    pair.port.on('data', (chunk: Buffer) => session.write(chunk.toString('latin1')));
    session.on('data', (chunk: Buffer) => pair.port.write(chunk));
    pair.port.once('close', () => session.close());
  }

  /** Pulls the cable: socat goes, and with it the host's path. */
  async stop(): Promise<void> {
    const pair = this.pair;
    this.pair = undefined;
    await pair?.stop();
  }
}
