import type { SimulatedHub } from '../sim/simulated-hub';

// The row patterns led-plan sends for each state on fixed-colour hubs (rows 1, 2, 3).
const STATES: Record<string, string> = {
  '0,0,0': 'off',
  '11111111b,0,0': 'granted',
  '0,0,11111111b': 'deploying',
  '11001100b,11001100b,11001100b': 'ready',
  '0,10101010b,0': 'error',
};

/** The LED states a port was given, in order, read from the commands the hub executed. */
export function ledHistory(hub: SimulatedHub, port: number): string[] {
  const states: string[] = [];
  const rows: string[] = [];
  for (const line of hub.commands) {
    const match = /^ledb (\d+) ([123]) (\S+) ([HR])$/.exec(line.trim());
    if (!match || Number(match[1]) !== port) continue;
    const [, , row, pattern, hold] = match;
    rows[Number(row) - 1] = hold === 'R' ? 'R' : pattern;
    if (row !== '3') continue;
    states.push(rows.every((r) => r === 'R') ? 'release' : (STATES[rows.join(',')] ?? rows.join(',')));
  }
  return states;
}
