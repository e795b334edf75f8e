import assert from 'node:assert/strict';
import { attachChanges, familyFromId, parseId, parseState, type PortState } from '../nodes/lib/hub/hub-state';

describe('hub state rows', () => {
  it('reads every Universal example row of the protocol notes', () => {
    // Two readings: one reply lists each port once.
    const readings = [
      ['1, 0000, D I, 0, 0, x, 0.00', '5, 1044, A C, 1, 5, x, 0.01', '2, 0946, A S, 1, 0, x, 0.10'],
      ['1, 0429, R A S, 0, 0, x, 0.00', '5, 0927, E A C, 1, 15, x, 0.00', '2, 0000, e D S, 0, 0, x, 0.00'],
    ].map((rows) => parseState(rows, 'universal'));
    assert.deepEqual(
      readings.flatMap((r) => r.rejected),
      [],
    );
    assert.deepEqual(
      readings.map((r) => r.rebooted),
      [false, true],
    );
    assert.deepEqual(
      readings.flatMap((r) => r.ports).map((p) => [p.port, p.attached, p.current_mA, p.flags.join(' ')]),
      [
        [1, false, 0, 'D I'],
        [5, true, 1044, 'A C'],
        [2, true, 946, 'A S'],
        [1, true, 429, 'R A S'],
        [5, true, 927, 'E A C'],
        [2, false, 0, 'e D S'],
      ],
    );
  });

  it('rejects a reply that lists a port twice, whole: it cannot say whether the phone is there', () => {
    const state = parseState(['1, 0500, A C, 0, 0, x, 0.00', '2, 0000, D S, 0, 0, x, 0.00', '1, 0000, D S, 0, 0, x, 0.00'], 'universal');
    assert.deepEqual(state.ports, []);
    assert.equal(state.contradiction, 'port 1 is listed twice');
  });

  it('reads every flag and marks mode O as undetectable', () => {
    const { ports, rejected } = parseState(
      ['3, 0000, T D O, 0, 0, x, 0.00', '4, 0100, r A P, 0, 0, x, 0.00', '6, 0100, A B, 0, 0, x, 0.00', '7, 0000, A F, 0, 0, x, 0.00'],
      'universal',
    );
    assert.deepEqual(rejected, []);
    assert.deepEqual(
      ports.map((p) => p.detectable),
      [false, true, true, true],
    );
  });

  it('rejects malformed rows with a reason and keeps the good ones', () => {
    const { ports, rejected } = parseState(
      ['1, 0000, D I, 0, 0, x, 0.00', '2, 05', 'x, 0000, D I', '3, 0000, A D, 0', '4, 0000, A Z, 0', '\u00ff\u0001garbage', '5, -1, A C'],
      'universal',
    );
    assert.deepEqual(
      ports.map((p) => p.port),
      [1],
    );
    assert.equal(rejected.length, 6);
    assert.match(rejected.join('\n'), /too few columns.*\n.*bad port number.*\n.*exactly one of A and D.*\n.*unknown flag Z/);
  });

  it('reads PDSync rows and skips the host port', () => {
    const { ports, rejected } = parseState(['0, 2010, 0000, A, I, _', '1, 0505, 0900, A, C, +', '2, 0000, 0000, D, I, _', '3, 0505, 0100, P, F, q'], 'pdsync');
    assert.deepEqual(rejected, []);
    assert.deepEqual(
      ports.map((p) => [p.port, p.attached, p.current_mA]),
      [
        [1, true, 900],
        [2, false, 0],
        [3, true, 100],
      ],
    );
  });

  it('reads id and the firmware family', () => {
    const id = parseId(['mfr:cambrionix,mode:main,hw:PP15S,hwid:0x13,fw:1.68,bl:0.15,sn:000000,group:-,fc:un']);
    assert.equal(id.hw, 'PP15S');
    assert.equal(familyFromId(id), 'universal');
    assert.equal(familyFromId(parseId(['fc:ps'])), 'pdsync');
    assert.equal(familyFromId(parseId(['fc:sm'])), undefined);
  });

  it('finds docks and unplugs, and nothing for new or undetectable ports', () => {
    const port = (n: number, attached: boolean, detectable = true): PortState => ({ port: n, attached, detectable, current_mA: 0, flags: [] });
    const known = new Map([1, 2, 3].map((n) => [n, port(n, n === 2)]));
    const changes = attachChanges(known, [port(1, true), port(2, false), port(3, true, false), port(4, true)]);
    assert.deepEqual(
      changes.map((c) => [c.event, c.port.port]),
      [
        ['dock', 1],
        ['unplug', 2],
      ],
    );
  });
});
