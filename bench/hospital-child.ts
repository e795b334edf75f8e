import { fork } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import helper from 'node-red-node-test-helper';
import { webhookHandler } from '../nodes/mdm-server/webhooks';
import { SimulatedDevice } from '../sim/simulated-device';
import { webhookReceiver } from '../sim/webhook-receiver';
import { startProfile } from './profile';
import { startWard, tapDriver, type TapOutcome } from './ward';

/** What the hospital bench tells a process of carts. */
type Command =
  | { do: 'dock'; cart: number; udid: string; serial: string; hub: number; port: number }
  | { do: 'tap'; id: number; cart: number }
  | { do: 'doubles' }
  /** Starts profiling its CPU; with `file`, stops and writes the profile there. */
  | { do: 'profile'; file?: string };

/** What it answers; times in ms since the epoch (performance's), comparable between processes. */
type Report =
  | { event: 'ready'; webhook?: string }
  | { event: 'returned' }
  | { event: 'tap'; id: number; outcome: TapOutcome }
  | { event: 'doubles'; n: number }
  | { event: 'profiled' };

export interface CartProcessOptions {
  mdmUrl: string;
  databaseUrl: string;
  first: number;
  carts: number;
  hubsPerCart: number;
  ports: number;
  /** Where its Node-RED's log goes. */
  log: string;
}

/** Now, in ms since the epoch: the same clock in every process of this machine. */
export const wallClock = (): number => performance.timeOrigin + performance.now();

/**
 * Carts `first` to `first + carts - 1` of the hospital bench in a Node-RED of their own (a
 * hospital runs a host per cart; a hundred carts in one process measure that process's queue),
 * with their simulated hubs and usbmuxd. The first process also takes NanoMDM's webhooks for
 * cart 0, which relays them. Usage: hospital-child <options as JSON>; over IPC it docks a phone
 * (a copy of the MDM's, by UDID and serial), taps a badge and reports each Return.
 */
async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2]) as CartProcessOptions;
  const { mdmUrl, databaseUrl, first, carts, hubsPerCart, ports } = options;
  const ward = await startWard({ url: mdmUrl }, databaseUrl, carts, hubsPerCart, ports, { pollInterval: 1000, wallpaper: false, mdmPerCart: true, first });
  const receiver = first === 0 ? await webhookReceiver((body, signature) => webhookHandler('/device-checkout/webhook')?.(body, signature) ?? 503) : undefined;
  const report = (message: Report): void => void process.send!(message);
  const taps = tapDriver(ward, `nurse-${first}`);
  helper.getNode('returned').on('input', () => report({ event: 'returned' }));
  const cartNumbered = (n: number) => ward.carts.find(({ index }) => index === n)!;
  let stopProfile: ((file: string) => Promise<void>) | undefined;
  process.on('message', (command: Command) => {
    if (command.do === 'dock') {
      const cart = cartNumbered(command.cart);
      const phone = new SimulatedDevice({ udid: command.udid, serial: command.serial, batteryLevel: 0.9 });
      cart.phones.push(phone);
      cart.cart.dock(phone, command.hub, command.port);
    } else if (command.do === 'tap') {
      const offset = performance.timeOrigin;
      void taps
        .tapAt(command.cart)
        .then((outcome) =>
          report({ event: 'tap', id: command.id, outcome: { ...outcome, started: outcome.started + offset, answered: outcome.answered + offset } }),
        );
    } else if (command.do === 'profile') {
      if (!command.file) void startProfile().then((stop) => (stopProfile = stop));
      else void stopProfile?.(command.file).then(() => report({ event: 'profiled' }));
    } else report({ event: 'doubles', n: taps.doubles() });
  });
  process.once('SIGTERM', () => void Promise.all([ward.stop(), receiver?.close()]).then(() => process.exit(0)));
  report({ event: 'ready', webhook: receiver?.url });
}

/** A process of carts, seen from the bench. */
export interface CartProcess {
  /** Where NanoMDM posts its webhooks, on the process with cart 0. */
  webhook?: string;
  dock(cart: number, phone: SimulatedDevice, hub: number, port: number): void;
  /** A badge tap at `cart` (a new person); its times by `wallClock`. */
  tap(cart: number): Promise<TapOutcome>;
  /** Called at every Return that ends. */
  onReturned(listener: () => void): void;
  /** Phones its carts handed out while they were out with someone else. */
  doubles(): Promise<number>;
  /** Profiles its CPU until the returned function writes the profile beside its log. */
  profile(): () => Promise<void>;
  stop(): Promise<void>;
}

export async function startCartProcess(options: CartProcessOptions): Promise<CartProcess> {
  const log = openSync(options.log, 'a');
  const child = fork(join(__dirname, 'hospital-child.js'), [JSON.stringify(options)], { stdio: ['ignore', log, log, 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const taps = new Map<number, (outcome: TapOutcome) => void>();
  const returned: (() => void)[] = [];
  let doubles: ((n: number) => void) | undefined;
  let profiled: (() => void) | undefined;
  let tapped = 0;
  const ready = new Promise<string | undefined>((resolve, reject) => {
    child.once('exit', () => reject(new Error(`a process of carts ended; its log: ${options.log}`)));
    child.on('message', (report: Report) => {
      if (report.event === 'ready') resolve(report.webhook);
      else if (report.event === 'returned') returned.forEach((listener) => listener());
      else if (report.event === 'tap') {
        taps.get(report.id)!(report.outcome);
        taps.delete(report.id);
      } else if (report.event === 'profiled') profiled?.();
      else doubles?.(report.n);
    });
  });
  const webhook = await ready;
  const send = (command: Command): void => void child.send(command);
  return {
    webhook,
    dock: (cart, phone, hub, port) => send({ do: 'dock', cart, udid: phone.udid, serial: phone.serial, hub, port }),
    tap: (cart) =>
      new Promise((resolve) => {
        const id = ++tapped;
        taps.set(id, resolve);
        send({ do: 'tap', id, cart });
      }),
    onReturned: (listener) => void returned.push(listener),
    doubles: () =>
      new Promise((resolve) => {
        doubles = resolve;
        send({ do: 'doubles' });
      }),
    profile: () => {
      send({ do: 'profile' });
      return () =>
        new Promise((resolve) => {
          profiled = resolve;
          send({ do: 'profile', file: options.log.replace(/\.log$/, '.cpuprofile') });
        });
    },
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

if (require.main === module) void main();
