import { EventEmitter } from 'node:events';
import type { ByteLink } from '../nodes/lib/hub/byte-link';

export interface SimulatedHubOptions {
  /** 4 to 16 ports. */
  ports?: number;
  family?: 'universal' | 'pdsync';
  /** A ModIT-class hub with RGB port LEDs (`rgb_led`). */
  rgb?: boolean;
  /** Replies take the time they would at this rate (10 bits a byte); 0 answers at once. */
  baudRate?: number;
  /** Split output into pieces of this many bytes, as a USB-serial adapter does; 0 keeps it whole. */
  chunkSize?: number;
  serialNumber?: string;
}

/** One LED row: an 8-bit pattern held by the host, or left to the firmware. */
export type LedRow = string | 'firmware';

interface SimPort {
  attached: boolean;
  current_mA: number;
  mode: 'c' | 's' | 'b' | 'o';
  rows: [LedRow, LedRow, LedRow];
  rgb: string;
}

const LEDS_UPPER: Record<string, string> = { O: '00000000', C: '11111111', F: '10101010', M: '11001100', S: '11110000', P: '10000000', D: '10100000' };
const BANNER = '\x1b[2J\x1b[H\r\ncambrionix Universal Charger\r\nFirmware 1.68 (c) cambrionix\r\n\r\n>> ';

/** Thrown inside command handling; becomes a `*Ennn: text` reply line. */
class CliError extends Error {
  constructor(
    readonly code: number,
    text: string,
  ) {
    super(text);
  }
}

/**
 * A Cambrionix-style smart hub speaking the serial CLI: echo, `>> ` prompt, `*Ennn`
 * errors, `state` rows with every flag, LEDs recorded per port so tests can read them.
 * Docks and unplugs are scripted with `dock()` and `unplug()`.
 */
export class SimulatedHub {
  readonly portCount: number;
  readonly family: 'universal' | 'pdsync';
  readonly rgb: boolean;
  /** Every command line the hub executed, in order. */
  readonly commands: string[] = [];
  private readonly ports: SimPort[];
  private readonly sessions = new Set<SimulatedHubSession>();
  private rebooted = false;
  private hubError = false;
  private remote = false;
  private rgbOverride = false;
  /** While true the hub reads nothing and answers nothing (a hung firmware). */
  unresponsive = false;
  /** Fault injection: rewrites a command's reply lines before they go on the line. */
  mangle?: (command: string, reply: string[]) => string[];

  constructor(readonly options: SimulatedHubOptions = {}) {
    this.portCount = options.ports ?? 8;
    if (this.portCount < 4 || this.portCount > 16) throw new Error('a simulated hub has 4 to 16 ports');
    this.family = options.family ?? 'universal';
    this.rgb = options.rgb ?? false;
    this.ports = Array.from({ length: this.portCount }, () => freshPort());
  }

  /** A phone is put on `port`. */
  dock(port: number, current_mA = 500): void {
    Object.assign(this.port(port), { attached: true, current_mA });
  }

  /** The phone on `port` is taken away. */
  unplug(port: number): void {
    Object.assign(this.port(port), { attached: false, current_mA: 0 });
  }

  isDocked(port: number): boolean {
    return this.port(port).attached;
  }

  /** The LED rows of a port (green, charging, blue) and its RGB colour. */
  led(port: number): { rows: LedRow[]; rgb: string } {
    const p = this.port(port);
    return { rows: [...p.rows], rgb: p.rgb };
  }

  /** Power-cycles the hub: LEDs back to the firmware, `R` flag set, banner on the line. */
  reboot(): void {
    this.rebooted = true;
    this.remote = false;
    this.rgbOverride = false;
    for (const p of this.ports) Object.assign(p, { rows: ['firmware', 'firmware', 'firmware'], rgb: '00000000', mode: 'c' });
    for (const session of this.sessions) session.send(BANNER);
  }

  /** Raw bytes on the line, as a noisy cable or a confused firmware would send. */
  sendRaw(bytes: string): void {
    for (const session of this.sessions) session.send(bytes);
  }

  /** Opens the hub's serial line. */
  connect(): SimulatedHubSession {
    const session = new SimulatedHubSession(this, this.options.baudRate ?? 115200, this.options.chunkSize ?? 0);
    this.sessions.add(session);
    session.once('close', () => this.sessions.delete(session));
    return session;
  }

  /** Runs one command line and returns its reply lines. */
  execute(line: string): string[] {
    this.commands.push(line);
    const [name, ...args] = line.trim().split(/\s+/);
    let reply: string[];
    try {
      reply = this.run(name, args);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      reply = [`*E${err.code}: ${err.message}`];
    }
    return this.mangle ? this.mangle(line.trim(), reply) : reply;
  }

  private run(name: string, args: string[]): string[] {
    switch (name) {
      case 'id':
        return [
          `mfr:cambrionix,mode:main,hw:${this.rgb ? 'ModIT-Max' : 'PP15S'},hwid:0x13,fw:1.68,bl:0.15,sn:${this.options.serialNumber ?? '000000'},group:-,fc:${this.family === 'pdsync' ? 'ps' : 'un'}`,
        ];
      case 'state':
        return this.stateRows(args[0]);
      case 'health':
        return ['5V Now: 5.23', '12V Now: 12.10', `Rebooted flag: ${this.rebooted ? 'R' : '-'}`, `Error flags: ${this.hubError ? 'E' : '-'}`];
      case 'system':
        return ['cambrionix Universal Charger', `Hardware: ${this.rgb ? 'ModIT-Max' : 'PP15S'}`, 'Firmware: 1.68', `Ports: ${this.portCount}`];
      case 'crf':
        this.rebooted = false;
        return [];
      case 'cef':
        this.hubError = false;
        return [];
      case 'mode':
        return this.setMode(args);
      case 'remote':
        this.remote = args[0] !== 'exit';
        return [];
      case 'sec':
        if (args[0] !== 'arm' && args[0] !== 'disarm') throw new CliError(402, 'invalid parameter');
        return [];
      case 'ledb':
        return this.ledb(args);
      case 'leds':
        return this.leds(args);
      case 'rgb':
        if (!this.rgb || args[0] !== 'override' || !['start', 'stop'].includes(args[1])) throw new CliError(400, 'unknown command');
        this.rgbOverride = args[1] === 'start';
        return [];
      case 'rgb_led':
        return this.rgbLed(args);
      case 'reboot':
        setTimeout(() => this.reboot(), 50);
        return [];
      default:
        throw new CliError(400, 'unknown command');
    }
  }

  private stateRows(portArg?: string): string[] {
    const ports = portArg === undefined ? this.ports.map((_, i) => i + 1) : [this.portNumber(portArg)];
    const system = [this.rebooted ? 'R' : '', this.hubError ? 'E' : ''].filter(Boolean);
    if (this.family === 'pdsync') {
      return [
        '0, 2010, 0000, A, I, _',
        ...ports.map((n) => {
          const p = this.ports[n - 1];
          const state = p.mode === 'o' ? 'O' : p.attached ? (p.mode === 's' ? 'S' : 'C') : 'I';
          return `${n}, ${p.attached ? '0505' : '0000'}, ${pad(p.current_mA)}, ${p.attached ? 'A' : 'D'}, ${state}, _`;
        }),
      ];
    }
    return ports.map((n) => {
      const p = this.ports[n - 1];
      const mode = p.mode === 'o' ? 'O' : p.mode === 's' ? 'S' : p.mode === 'b' ? 'B' : p.attached ? 'C' : 'I';
      const flags = [...system, p.attached ? 'A' : 'D', mode].join(' ');
      return `${n}, ${pad(p.current_mA)}, ${flags}, ${p.attached ? 1 : 0}, 0, x, 0.00`;
    });
  }

  private setMode([mode, port]: string[]): string[] {
    if (!['c', 's', 'b', 'o'].includes(mode)) throw new CliError(421, 'invalid mode');
    const targets = port === undefined ? this.ports : [this.ports[this.portNumber(port) - 1]];
    for (const p of targets) p.mode = mode as SimPort['mode'];
    return [];
  }

  /** `ledb port row pattern [H|R]` */
  private ledb([portArg, rowArg, patternArg, hold]: string[]): string[] {
    const p = this.ports[this.portNumber(portArg) - 1];
    const row = Number(rowArg);
    if (![1, 2, 3].includes(row)) throw new CliError(402, 'invalid parameter');
    const pattern = parsePattern(patternArg);
    if (hold === 'R') {
      p.rows[row - 1] = 'firmware';
      return [];
    }
    if (hold !== 'H' && !this.remote) throw new CliError(423, 'remote mode required');
    if (hold !== undefined && hold !== 'H') throw new CliError(402, 'invalid parameter');
    p.rows[row - 1] = pattern;
    return [];
  }

  /** `leds row string`: one character per port from port 1. */
  private leds([rowArg, text]: string[]): string[] {
    const row = Number(rowArg);
    if (![1, 2, 3].includes(row) || !text || text.length > this.portCount) throw new CliError(402, 'invalid parameter');
    const lower: Record<string, string> = { '0': '00000000', '1': '11111111', f: '10101010', m: '11001100', s: '11110000', p: '10000000', d: '10100000' };
    const next = [...text].map((c) => {
      if (c === 'x' || c === 'R') return c;
      if (LEDS_UPPER[c]) return LEDS_UPPER[c];
      if (lower[c]) {
        if (!this.remote) throw new CliError(423, 'remote mode required');
        return lower[c];
      }
      throw new CliError(425, 'bad LED pattern');
    });
    next.forEach((value, i) => {
      if (value === 'x') return;
      this.ports[i].rows[row - 1] = value === 'R' ? 'firmware' : value;
    });
    return [];
  }

  /** `rgb_led port aarrggbb` */
  private rgbLed([portArg, colour]: string[]): string[] {
    if (!this.rgb) throw new CliError(400, 'unknown command');
    const p = this.ports[this.portNumber(portArg) - 1];
    if (!/^[0-9a-fA-F]{8}$/.test(colour ?? '')) throw new CliError(425, 'bad LED pattern');
    if (!this.rgbOverride) throw new CliError(423, 'remote mode required');
    p.rgb = colour.toLowerCase();
    return [];
  }

  private portNumber(text: string | undefined): number {
    const n = Number(text);
    if (!/^\d+$/.test(text ?? '') || n < 1 || n > this.portCount) throw new CliError(410, 'invalid port');
    return n;
  }

  private port(n: number): SimPort {
    const p = this.ports[n - 1];
    if (!p) throw new Error(`the simulated hub has no port ${n}`);
    return p;
  }
}

function freshPort(): SimPort {
  return { attached: false, current_mA: 0, mode: 'c', rows: ['firmware', 'firmware', 'firmware'], rgb: '00000000' };
}

function pad(n: number): string {
  return String(n).padStart(4, '0');
}

/** Decimal, `NNh` or `NNNNNNNNb`, as an 8-character bit string. */
function parsePattern(text: string | undefined): string {
  let value: number | undefined;
  if (text && /^\d{1,3}$/.test(text)) value = Number(text);
  else if (text && /^[0-9a-fA-F]{1,2}h$/.test(text)) value = parseInt(text, 16);
  else if (text && /^[01]{8}b$/.test(text)) value = parseInt(text, 2);
  if (value === undefined || value > 255) throw new CliError(425, 'bad LED pattern');
  return value.toString(2).padStart(8, '0');
}

/** The host's end of the hub's serial line. */
export class SimulatedHubSession extends EventEmitter implements ByteLink {
  private line = '';
  private lastWasCr = false;
  private sendAt = 0;
  private readonly outbox: { bytes: Buffer; at: number }[] = [];
  private pumping?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly hub: SimulatedHub,
    private readonly baudRate: number,
    private readonly chunkSize: number,
  ) {
    super();
  }

  /** Bytes from the host to the hub. */
  write(data: string): void {
    if (this.closed || this.hub.unresponsive) return;
    let out = '';
    for (const ch of data) {
      if (ch === '\x03') {
        this.line = '';
        out += '\r\n>> ';
      } else if (ch === '\r' || (ch === '\n' && !this.lastWasCr)) {
        const reply = this.line.trim() ? this.hub.execute(this.line) : [];
        this.line = '';
        out += '\r\n' + reply.map((l) => `${l}\r\n`).join('') + '>> ';
      } else if (ch !== '\n') {
        this.line += ch;
        out += ch; // the hub echoes what it receives
      }
      this.lastWasCr = ch === '\r';
    }
    this.send(out);
  }

  /** Bytes from the hub to the host, taking the time the line rate needs, in order. */
  send(text: string): void {
    if (this.closed || !text) return;
    const pieces = this.chunkSize > 0 ? text.match(new RegExp(`[\\s\\S]{1,${this.chunkSize}}`, 'g'))! : [text];
    for (const piece of pieces) {
      const start = Math.max(performance.now(), this.sendAt);
      this.sendAt = start + (this.baudRate > 0 ? (piece.length * 10 * 1000) / this.baudRate : 0);
      this.outbox.push({ bytes: Buffer.from(piece, 'latin1'), at: this.sendAt });
    }
    this.pump();
  }

  /** One timer drains the outbox, so pieces can never overtake each other. */
  private pump(): void {
    if (this.pumping || this.outbox.length === 0) return;
    this.pumping = setTimeout(
      () => {
        this.pumping = undefined;
        while (this.outbox.length > 0 && this.outbox[0].at <= performance.now() + 0.5) {
          const { bytes } = this.outbox.shift()!;
          if (!this.closed) this.emit('data', bytes);
        }
        this.pump();
      },
      Math.max(0, this.outbox[0].at - performance.now()),
    );
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      clearTimeout(this.pumping);
      this.outbox.length = 0;
      this.emit('close');
    }
    return Promise.resolve();
  }
}
