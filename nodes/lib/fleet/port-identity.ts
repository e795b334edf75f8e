import { join } from 'node:path';
import { CodedError } from '../coded-error';
import { readJson, setAside, SnapshotFile } from '../json-file';
import { SharedPool } from '../shared-pool';
import { LockdownSession } from '../usb/lockdown';
import { openUsbSocket } from '../usb/open-usb';
import { keyOf, PortCorrelator, type Resolution } from '../usb/port-correlator';
import { UsbmuxClient, type UsbDevice } from '../usb/usbmux-client';
import type { FleetStore, HubPort } from './fleet-store';
import type { PortWrites } from './port-writes';

/** How the fleet tells which phone is on a port: through usbmuxd, or without USB from its records alone. */
export interface PortIdentifier {
  /** Which phone a port event is about, or why that cannot be told. */
  identify(place: HubPort, missed?: boolean): Promise<Resolution>;
  /** The phone USB saw leave the port, if USB can tell. */
  unplug(place: HubPort): string | undefined;
  lockdown(udid: string): Promise<LockdownSession>;
  /** Learnt USB locations keyed `<hub name>#<port>` (before 0.2) move to the hub's id, unless it has learnt its own. */
  adoptHub(hubId: string, name: string): void;
  close(): Promise<void>;
}

interface IdentifierOptions {
  store: FleetStore;
  writes: PortWrites;
  text: (key: string, vars?: Record<string, unknown>) => string;
  warn(message: string): void;
}

/** One usbmuxd connection per socket path across every fleet. */
const usbSources = new SharedPool<UsbmuxClient>();

/** Without USB: a phone still docked where the record left it is that phone; any other cannot be told. */
export function recordsIdentifier({ store, writes, text }: IdentifierOptions): PortIdentifier {
  const noUsb = text('device-fleet.errors.no-usb');
  return {
    identify: async (place, missed) => {
      const recorded = missed ? await writes.record(() => store.deviceAt(place.hubId, place.port)) : undefined;
      return recorded ? { udid: recorded.udid } : { reason: noUsb };
    },
    unplug: () => undefined,
    lockdown: async () => {
      throw new CodedError('NO_USB', noUsb);
    },
    adoptHub: () => undefined,
    close: async () => undefined,
  };
}

/**
 * Identity from usbmuxd at `path`: which phone sits on which port (a dock and a USB attach at
 * most `windowMs` apart), and lockdown sessions with it. The port -> USB locations it learns
 * outlive restarts (in `file`): first docks need not be alone again.
 */
export function usbIdentifier(options: IdentifierOptions & { path: string; windowMs: number; file: string; hubName(hubId: string): string }): PortIdentifier {
  const { path, windowMs, file, text, warn } = options;
  const learnt = new Map<string, number>(Object.entries(learntLocations(file, options)));
  const snapshots = new SnapshotFile(file);
  // A write the disk refuses is learnt again at the next lone dock.
  const save = (): void => void snapshots.write(Object.fromEntries(learnt)).catch((err: Error) => warn(err.message));
  const correlator = new PortCorrelator({
    windowMs,
    locations: learnt,
    onLearn: save,
    onDisagreement: (udid, { hubId, port }) => warn(text('device-fleet.errors.usb-disagrees', { udid, hub: options.hubName(hubId), port })),
  });
  const usb = usbSources.acquire(path, () => new UsbmuxClient({ path, openSocket: openUsbSocket }));
  const onAttached = (d: UsbDevice, listed = false): void => correlator.attach(d.udid, d.locationId, listed);
  const onDetached = (d: UsbDevice): void => correlator.detach(d.udid);
  usb.on('attached', onAttached).on('detached', onDetached);
  for (const device of usb.devices()) onAttached(device, true);
  usb.start();

  return {
    identify: async (place, missed) => {
      const known = missed ? await usb.whenListed(windowMs).then(() => correlator.present(place, usb.devices())) : undefined;
      return known ?? (await correlator.dock(place));
    },
    unplug: (place) => correlator.unplug(place),
    lockdown: async (udid) => {
      const device = usb.byUdid(udid);
      if (!device) throw new CodedError('DEVICE_GONE', text('device-fleet.errors.not-on-usb', { udid }));
      return LockdownSession.open(openUsbSocket, path, device);
    },
    adoptHub: (hubId, name) => {
      const named = [...learnt.keys()].filter((key) => key.startsWith(`${name}#`));
      if (named.length === 0 || [...learnt.keys()].some((key) => key.startsWith(`${hubId}#`))) return;
      for (const key of named) {
        learnt.set(keyOf({ hubId, port: Number(key.slice(name.length + 1)) }), learnt.get(key)!);
        learnt.delete(key);
      }
      save();
    },
    close: async () => {
      usb.off('attached', onAttached).off('detached', onDetached);
      correlator.close();
      await usbSources.release(path);
    },
  };
}

/** Where the learnt locations of fleet `id` are kept. */
export const locationsFile = (dataDir: string, id: string): string => join(dataDir, `usb-locations-${id}.json`);

/** The port -> USB location cache: a damaged one is set aside and learnt again, never fatal. */
function learntLocations(file: string, { text, warn }: IdentifierOptions): Record<string, number> {
  try {
    const saved = readJson<unknown>(file, {});
    const valid = saved !== null && typeof saved === 'object' && !Array.isArray(saved) && Object.values(saved).every(Number.isInteger);
    if (valid) return saved as Record<string, number>;
    throw new CodedError('STORAGE_DAMAGED', text('device-fleet.errors.locations-shape', { file }));
  } catch (err) {
    let aside = '';
    try {
      aside = setAside(file);
    } catch {
      // unreadable and immovable: it is simply not used
    }
    warn(text('device-fleet.errors.locations-damaged', { message: (err as Error).message, aside: aside || file }));
    return {};
  }
}
