/** What a port's LED tells the person at the cart. */
export const LED_STATES = ['off', 'granted', 'deploying', 'ready', 'error', 'release'] as const;
export type LedState = (typeof LED_STATES)[number];

/** Fixed-colour hubs (Universal, PDSync) light LED rows; RGB hubs take exact colours. */
export type LedModel = 'universal' | 'pdsync' | 'rgb';

export function isLedState(value: unknown): value is LedState {
  return typeof value === 'string' && (LED_STATES as readonly string[]).includes(value);
}

export interface LedPlan {
  /** Commands to send, in order. */
  commands: string[];
  /** RGB hubs have no flash pattern: the driver alternates these two commands instead. */
  blink?: [on: string, off: string];
  /** Fixed-colour hubs: the row patterns the hub holds once the commands are sent (none after a release). */
  rows?: RowPatterns;
}

/** Rows 1 (green), 2 (charging: green/amber), 3 (blue) of one port, as `ledb` patterns. */
export type RowPatterns = readonly [string, string, string];

// Row patterns, scanned MSB first by the hub: solid, off, and the CLI's medium and fast flash.
const ON = '11111111b';
const OFF = '0';
const MEDIUM = '11001100b';
const FAST = '10101010b';

/** Rows 1 (green), 2 (charging: green/amber), 3 (blue) for each state on fixed-colour hubs. */
const ROW_PATTERNS: Record<Exclude<LedState, 'release'>, RowPatterns> = {
  off: [OFF, OFF, OFF],
  granted: [ON, OFF, OFF],
  deploying: [OFF, OFF, ON],
  // No white LED: all three rows flashing together is the nearest a fixed hub gets.
  ready: [MEDIUM, MEDIUM, MEDIUM],
  // The charging row (amber on most hubs) flashing fast.
  error: [OFF, FAST, OFF],
};

/** `aarrggbb`; alpha 00 hands the LED back to the firmware. */
const RGB_COLOURS: Record<Exclude<LedState, 'ready'>, string> = {
  off: 'ff000000',
  granted: 'ff00ff00',
  deploying: 'ff0000ff',
  error: 'ffff0000',
  release: '00000000',
};
const RGB_WHITE = 'ffffffff';

/**
 * The commands that show `state` on `port`. On a fixed-colour hub, rows already holding their
 * pattern (`held`, as sent before) are not sent again, and rows that light go before rows that
 * go dark, so a change never passes through a dark port (green to blue is never off between).
 */
export function ledPlan(model: LedModel, port: number, state: LedState, held?: RowPatterns): LedPlan {
  if (model === 'rgb') {
    const rgb = (colour: string) => `rgb_led ${port} ${colour}`;
    if (state === 'ready') return { commands: [rgb(RGB_WHITE)], blink: [rgb(RGB_WHITE), rgb(RGB_COLOURS.off)] };
    return { commands: [rgb(RGB_COLOURS[state])] };
  }
  // Uppercase H/R take and release a row without remote mode.
  if (state === 'release') return { commands: [1, 2, 3].map((row) => `ledb ${port} ${row} 0 R`) };
  const rows = ROW_PATTERNS[state];
  const changed = [0, 1, 2].filter((i) => rows[i] !== held?.[i]).sort((a, b) => Number(rows[a] === OFF) - Number(rows[b] === OFF));
  return { commands: changed.map((i) => `ledb ${port} ${i + 1} ${rows[i]} H`), rows };
}

/** RGB hubs only accept `rgb_led` after this, once per power-up. */
export const RGB_OVERRIDE_START = 'rgb override start';
