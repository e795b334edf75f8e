import assert from 'node:assert/strict';
import { SimulatedHub } from '../sim/simulated-hub';

/** The simulator is the other side of every serial test, so it must speak the CLI faithfully. */
describe('SimulatedHub CLI', () => {
  it('has 4 to 16 ports', () => {
    assert.throws(() => new SimulatedHub({ ports: 3 }));
    assert.throws(() => new SimulatedHub({ ports: 17 }));
    assert.equal(new SimulatedHub({ ports: 16 }).execute('state').length, 16);
  });

  it('reports attachment and mode flags in state rows', () => {
    const hub = new SimulatedHub({ ports: 4 });
    hub.dock(2, 946);
    assert.deepEqual(hub.execute('state'), [
      '1, 0000, D I, 0, 0, x, 0.00',
      '2, 0946, A C, 1, 0, x, 0.00',
      '3, 0000, D I, 0, 0, x, 0.00',
      '4, 0000, D I, 0, 0, x, 0.00',
    ]);
    assert.deepEqual(hub.execute('mode s 2'), []);
    assert.deepEqual(hub.execute('mode o 3'), []);
    assert.deepEqual(hub.execute('state 2'), ['2, 0946, A S, 1, 0, x, 0.00']);
    assert.deepEqual(hub.execute('state 3'), ['3, 0000, D O, 0, 0, x, 0.00']);
    assert.deepEqual(hub.execute('mode q'), ['*E421: invalid mode']);
    assert.deepEqual(hub.execute('state 9'), ['*E410: invalid port']);
  });

  it('sets the R flag on reboot until crf, and says so in health', () => {
    const hub = new SimulatedHub({ ports: 4 });
    hub.reboot();
    assert.match(hub.execute('state 1')[0], /^1, 0000, R D I/);
    assert.ok(hub.execute('health').includes('Rebooted flag: R'));
    hub.execute('crf');
    assert.match(hub.execute('state 1')[0], /^1, 0000, D I/);
  });

  it('takes ledb patterns as decimal, hex and binary; lowercase needs remote mode', () => {
    const hub = new SimulatedHub({ ports: 4 });
    hub.execute('ledb 1 1 255 H');
    hub.execute('ledb 1 2 f0h H');
    hub.execute('ledb 1 3 10101010b H');
    assert.deepEqual(hub.led(1).rows, ['11111111', '11110000', '10101010']);
    assert.deepEqual(hub.execute('ledb 1 1 0'), ['*E423: remote mode required']);
    assert.deepEqual(hub.execute('ledb 1 1 300 H'), ['*E425: bad LED pattern']);
    assert.deepEqual(hub.execute('ledb 1 4 0 H'), ['*E402: invalid parameter']);
    hub.execute('ledb 1 1 0 R');
    assert.equal(hub.led(1).rows[0], 'firmware');
  });

  it('takes leds strings: uppercase without remote mode, lowercase with it, x unchanged, R released', () => {
    const hub = new SimulatedHub({ ports: 4 });
    assert.deepEqual(hub.execute('leds 2 CFxM'), []);
    assert.deepEqual(
      [1, 2, 3, 4].map((p) => hub.led(p).rows[1]),
      ['11111111', '10101010', 'firmware', '11001100'],
    );
    assert.deepEqual(hub.execute('leds 2 f'), ['*E423: remote mode required']);
    hub.execute('remote');
    hub.execute('leds 2 0xRs');
    assert.deepEqual(
      [1, 2, 3, 4].map((p) => hub.led(p).rows[1]),
      ['00000000', '10101010', 'firmware', '11110000'],
    );
    assert.deepEqual(hub.execute('leds 2 CCCCC'), ['*E402: invalid parameter']);
  });

  it('has rgb_led only on RGB hubs, after the override starts', () => {
    assert.deepEqual(new SimulatedHub().execute('rgb_led 1 ffffffff'), ['*E400: unknown command']);
    const hub = new SimulatedHub({ rgb: true });
    assert.match(hub.execute('id')[0], /hw:ModIT-Max/);
    assert.deepEqual(hub.execute('rgb_led 1 ffffffff'), ['*E423: remote mode required']);
    hub.execute('rgb override start');
    assert.deepEqual(hub.execute('rgb_led 1 FF00FF00'), []);
    assert.equal(hub.led(1).rgb, 'ff00ff00');
    assert.deepEqual(hub.execute('rgb_led 1 green'), ['*E425: bad LED pattern']);
  });

  it('echoes input, answers with the prompt, and cancels a partial line on Ctrl-C', async () => {
    const session = new SimulatedHub({ baudRate: 0 }).connect();
    let out = '';
    session.on('data', (chunk: Buffer) => (out += chunk.toString('latin1')));
    session.write('sta\x03crf\r\n');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(out, 'sta\r\n>> crf\r\n>> ');
  });

  it('takes the time the line rate needs: a 16-port state reply at 115200 baud', async () => {
    const session = new SimulatedHub({ ports: 16 }).connect();
    const started = performance.now();
    let out = '';
    const elapsed = await new Promise<number>((resolve) => {
      session.on('data', (chunk: Buffer) => {
        out += chunk.toString('latin1');
        if (out.endsWith('>> ')) resolve(performance.now() - started);
      });
      session.write('state\r\n');
    });
    const wire = (out.length * 10 * 1000) / 115200;
    assert.ok(out.length > 400, 'sixteen rows came back');
    // Timers may fire a fraction of a millisecond early against performance.now().
    assert.ok(elapsed >= wire - 1, `${elapsed.toFixed(1)} ms for ${out.length} bytes is faster than the wire (${wire.toFixed(1)} ms)`);
  });
});
