/** Firmware families, from the `fc` field of `id`. */
export type HubFamily = 'universal' | 'pdsync';

export interface PortState {
  port: number;
  /** A device is present on the port. */
  attached: boolean;
  /** False in mode `O` (off), where the hub cannot detect attach or detach. */
  detectable: boolean;
  current_mA: number;
  flags: string[];
}

export interface HubState {
  ports: PortState[];
  /** The hub rebooted since the flag was last cleared (`R`): send `crf`. */
  rebooted: boolean;
  /** Rows that could not be read, each with the reason. */
  rejected: string[];
  /** Why the whole reply cannot be believed (a port listed twice): nothing of it is used. */
  contradiction?: string;
}

/** Flags of a Universal `state` row (case-sensitive): system, attachment, mode, faults. */
const UNIVERSAL_FLAGS = new Set(['A', 'D', 'O', 'S', 'B', 'I', 'P', 'C', 'F', 'T', 'E', 'R', 'r', 'e']);
/** PDSync columns: attachment, charge state, quick-charge. */
const PDSYNC_ATTACH = new Set(['A', 'D', 'P', 'C']);
const PDSYNC_STATE = new Set(['I', 'S', 'C', 'F', 'O', 'c']);
const PDSYNC_QC = new Set(['_', '-', '+', 'q', 'Q']);

export function familyFromId(fields: Record<string, string>): HubFamily | undefined {
  if (fields.fc === 'un') return 'universal';
  if (fields.fc === 'ps') return 'pdsync';
  return undefined;
}

/** `id` answers one line of `key:value` pairs separated by commas. */
export function parseId(lines: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const pair of lines.join(',').split(',')) {
    const colon = pair.indexOf(':');
    if (colon > 0) fields[pair.slice(0, colon).trim()] = pair.slice(colon + 1).trim();
  }
  return fields;
}

export function parseState(lines: string[], family: HubFamily): HubState {
  const state: HubState = { ports: [], rebooted: false, rejected: [] };
  for (const line of lines) {
    const row = family === 'pdsync' ? parsePdSyncRow(line) : parseUniversalRow(line);
    if (typeof row === 'string') {
      state.rejected.push(`${row}: ${JSON.stringify(line.slice(0, 80))}`);
    } else if (row) {
      if (row.flags.includes('R')) state.rebooted = true;
      state.ports.push(row);
    }
  }
  const seen = new Set<number>();
  const twice = state.ports.find(({ port }) => seen.has(port) || !seen.add(port));
  if (twice) return { ports: [], rebooted: false, rejected: [], contradiction: `port ${twice.port} is listed twice` };
  return state;
}

/** `port, current_mA, flags, profile_id, time_charging, time_charged, energy_Wh` */
function parseUniversalRow(line: string): PortState | string {
  const cells = line.split(',').map((c) => c.trim());
  if (cells.length < 3) return 'too few columns';
  const port = wholeNumber(cells[0]);
  const current = wholeNumber(cells[1]);
  if (port === undefined || port < 1) return 'bad port number';
  if (current === undefined) return 'bad current';
  const flags = cells[2].split(/\s+/).filter(Boolean);
  const unknown = flags.filter((f) => !UNIVERSAL_FLAGS.has(f));
  if (unknown.length > 0) return `unknown flag ${unknown.join(' ')}`;
  const attached = flags.includes('A');
  if (attached === flags.includes('D')) return 'needs exactly one of A and D';
  return { port, attached, detectable: !flags.includes('O'), current_mA: current, flags };
}

/** `port, voltage_10mV, current_mA, attach, state, qc, ...`; port 0 is the host port. */
function parsePdSyncRow(line: string): PortState | string | undefined {
  const cells = line.split(',').map((c) => c.trim());
  if (cells.length < 6) return 'too few columns';
  const port = wholeNumber(cells[0]);
  const current = wholeNumber(cells[2]);
  if (port === undefined) return 'bad port number';
  if (port === 0) return undefined;
  if (wholeNumber(cells[1]) === undefined) return 'bad voltage';
  if (current === undefined) return 'bad current';
  const [attach, charge, qc] = cells.slice(3, 6);
  if (!PDSYNC_ATTACH.has(attach) || !PDSYNC_STATE.has(charge) || !PDSYNC_QC.has(qc)) {
    return `unknown flags ${attach} ${charge} ${qc}`;
  }
  // Anything but D means a device is present (A, and the PD/charge-only attach states).
  return { port, attached: attach !== 'D', detectable: charge !== 'O', current_mA: current, flags: [attach, charge, qc] };
}

function wholeNumber(text: string): number | undefined {
  return /^\d{1,6}$/.test(text) ? Number(text) : undefined;
}

export type AttachEvent = 'dock' | 'unplug';

/**
 * What changed between the last known ports and a new reading: D->A is a dock, A->D an
 * unplug. Ports never seen before and ports in mode O (attachment unknown) change nothing.
 */
export function attachChanges(known: ReadonlyMap<number, PortState>, now: PortState[]): { event: AttachEvent; port: PortState }[] {
  const changes: { event: AttachEvent; port: PortState }[] = [];
  for (const port of now) {
    const before = known.get(port.port);
    if (!before || !port.detectable || before.attached === port.attached) continue;
    changes.push({ event: port.attached ? 'dock' : 'unplug', port });
  }
  return changes;
}
