import type { SimulatedHub } from '../sim/simulated-hub';

// The row patterns led-plan sends for each state on fixed-colour hubs (rows 1, 2, 3).
const STATES: Record<string, string> = {
  '0,0,0': 'off',
  '11111111b,0,0': 'granted',
  '0,0,11111111b': 'deploying',
  '11001100b,11001100b,11001100b': 'ready',
  '0,10101010b,0': 'error',
  'R,R,R': 'release',
};

/**
 * The LED states a port showed, in order, read from the commands the hub executed. Only rows
 * that change are sent, so a state is read from all three rows after each command; rows part
 * way through a change match no state and are skipped.
 */
export function ledHistory(hub: SimulatedHub, port: number): string[] {
  const states: string[] = [];
  const rows: string[] = ['R', 'R', 'R'];
  for (const line of hub.commands) {
    const match = /^ledb (\d+) ([123]) (\S+) ([HR])$/.exec(line.trim());
    if (!match || Number(match[1]) !== port) continue;
    const [, , row, pattern, hold] = match;
    rows[Number(row) - 1] = hold === 'R' ? 'R' : pattern;
    const state = STATES[rows.join(',')];
    if (state && state !== states.at(-1)) states.push(state);
  }
  return states;
}
