import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';

/**
 * A real pseudo-terminal pair made by socat: the host opens `hostPath` with the real serialport
 * binding, exactly as it would a USB device; `port` is the device's end. Stopping it makes the
 * path disappear, like a pulled cable.
 */
export class PtyPair {
  private constructor(
    private readonly socat: ChildProcess,
    readonly port: SerialPort,
  ) {}

  static async start(hostPath: string, simPath = `${hostPath}.sim`): Promise<PtyPair> {
    const socat = spawn('socat', [`pty,raw,echo=0,link=${hostPath}`, `pty,raw,echo=0,link=${simPath}`], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      socat.once('error', (err) => reject(new Error(`cannot run socat (apt-get install socat): ${err.message}`)));
      socat.once('exit', (code) => reject(new Error(`socat exited with ${code}`)));
      const deadline = Date.now() + 5000;
      const check = (): void => {
        if (existsSync(hostPath) && existsSync(simPath)) resolve();
        else if (Date.now() > deadline) reject(new Error('socat made no pty pair within 5 s'));
        else setTimeout(check, 10);
      };
      check();
    });
    const port = new SerialPort({ path: simPath, baudRate: 115200 });
    await new Promise<void>((resolve, reject) => port.once('open', resolve).once('error', reject));
    port.on('error', () => undefined);
    return new PtyPair(socat, port);
  }

  /** Pulls the cable: socat goes, and with it the host's path. */
  async stop(): Promise<void> {
    if (this.port.isOpen) await new Promise<void>((resolve) => this.port.close(() => resolve()));
    if (this.socat.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      this.socat.once('exit', () => resolve());
      this.socat.kill('SIGTERM');
    });
  }
}
