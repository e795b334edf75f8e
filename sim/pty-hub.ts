import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { SimulatedHub, type SimulatedHubOptions } from './simulated-hub';

/**
 * A simulated hub behind a real pseudo-terminal pair made by socat: the host opens
 * `hostPath` with the real serialport binding, exactly as it would a USB hub. Stopping it
 * makes the path disappear, like a pulled cable.
 */
export class PtyHub {
  private socat?: ChildProcess;
  private port?: SerialPort;

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
    const socat = spawn('socat', [`pty,raw,echo=0,link=${this.hostPath}`, `pty,raw,echo=0,link=${this.simPath}`], { stdio: 'ignore' });
    this.socat = socat;
    await new Promise<void>((resolve, reject) => {
      socat.once('error', (err) => reject(new Error(`cannot run socat (apt-get install socat): ${err.message}`)));
      socat.once('exit', (code) => reject(new Error(`socat exited with ${code}`)));
      const deadline = Date.now() + 5000;
      const check = (): void => {
        if (existsSync(this.hostPath) && existsSync(this.simPath)) resolve();
        else if (Date.now() > deadline) reject(new Error('socat made no pty pair within 5 s'));
        else setTimeout(check, 10);
      };
      check();
    });
    const port = new SerialPort({ path: this.simPath, baudRate: 115200 });
    await new Promise<void>((resolve, reject) => port.once('open', resolve).once('error', reject));
    port.on('error', () => undefined);
    this.port = port;
    const session = this.hub.connect();
    port.on('data', (chunk: Buffer) => session.write(chunk.toString('latin1')));
    session.on('data', (chunk: Buffer) => port.write(chunk));
    port.once('close', () => session.close());
  }

  /** Pulls the cable: socat goes, and with it the host's path. */
  async stop(): Promise<void> {
    const socat = this.socat;
    this.socat = undefined;
    if (this.port?.isOpen) await new Promise<void>((resolve) => this.port!.close(() => resolve()));
    if (socat && socat.exitCode === null) {
      await new Promise<void>((resolve) => {
        socat.once('exit', () => resolve());
        socat.kill('SIGTERM');
      });
    }
  }
}
