import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { HubCli } from '../nodes/lib/hub/hub-cli';
import { SimulatedHub } from '../sim/simulated-hub';
import type { ByteLink } from '../nodes/lib/hub/byte-link';
import type { CodedError } from '../nodes/lib/coded-error';

/** A link whose replies the test types by hand, recording what the client wrote. */
class ScriptedLink extends EventEmitter implements ByteLink {
  readonly written: string[] = [];
  write(data: string): void {
    this.written.push(data);
  }
  reply(text: string): void {
    this.emit('data', Buffer.from(text, 'latin1'));
  }
  close(): Promise<void> {
    this.emit('close');
    return Promise.resolve();
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('HubCli', () => {
  it('resynchronises with Ctrl-C before the first command', async () => {
    const link = new ScriptedLink();
    const cli = new HubCli(link, 1000);
    const reply = cli.command('id');
    assert.deepEqual(link.written, ['\x03\r\n']);
    link.reply('\r\n>> ');
    await settle();
    assert.deepEqual(link.written, ['\x03\r\n', 'id\r\n']);
    link.reply('id\r\nmfr:cambrionix,fc:un\r\n>> ');
    assert.deepEqual(await reply, ['mfr:cambrionix,fc:un']);
  });

  it('sends urgent commands (LEDs) before queued ones that are not (polls), in their own order', async () => {
    const link = new ScriptedLink();
    const cli = new HubCli(link, 1000);
    const inFlight = cli.command('state');
    link.reply('\r\n>> ');
    await settle();
    const queued = [cli.command('state'), cli.command('ledb 1 1 0 H', true), cli.command('ledb 1 2 0 H', true)];
    const answer = async (line: string) => {
      await settle();
      assert.equal(link.written.at(-1), `${line}\r\n`);
      link.reply(`${line}\r\n>> `);
    };
    await answer('state');
    await inFlight; // a command on the line is never interrupted...
    await answer('ledb 1 1 0 H'); // ...but the LED rows go before the poll that waited
    await answer('ledb 1 2 0 H');
    await answer('state');
    await Promise.all(queued);
  });

  it('sends one command at a time, the next only after the prompt', async () => {
    const link = new ScriptedLink();
    const cli = new HubCli(link, 1000);
    const first = cli.command('health');
    const second = cli.command('crf');
    link.reply('>> ');
    await settle();
    assert.equal(link.written.at(-1), 'health\r\n');
    link.reply('health\r\n5V Now: 5.23\r\n');
    await settle();
    assert.equal(link.written.length, 2, 'crf must wait for the prompt of health');
    link.reply('>> ');
    assert.deepEqual(await first, ['5V Now: 5.23']);
    await settle();
    assert.equal(link.written.at(-1), 'crf\r\n');
    link.reply('crf\r\n>> ');
    assert.deepEqual(await second, []);
  });

  it('reads replies split anywhere, with blank lines, ANSI escapes and a stray earlier prompt', async () => {
    const link = new ScriptedLink();
    const cli = new HubCli(link, 1000);
    const reply = cli.command('state');
    link.reply('>> ');
    await settle();
    // A prompt left over from an earlier exchange arrives before our echo.
    for (const piece of ['\r\n>', '> ', 'sta', 'te\r', '\n\r\n\x1b[0m1, 0000, D I, 0, 0, x, 0.00\r\n', '\r\n2, 0500, A C, 1, 5, x, 0.01\r\n>', '> ']) {
      link.reply(piece);
    }
    assert.deepEqual(await reply, ['1, 0000, D I, 0, 0, x, 0.00', '2, 0500, A C, 1, 5, x, 0.01']);
  });

  it('turns *Ennn replies into coded errors with the hub code', async () => {
    const cli = new HubCli(new SimulatedHub({ baudRate: 0 }).connect(), 1000);
    await assert.rejects(
      cli.command('ledb 99 1 0 H'),
      (err: CodedError) => err.code === 'HUB_COMMAND_ERROR' && err.details.hubCode === 410 && /invalid port/.test(err.message),
    );
    await assert.rejects(cli.command('frobnicate'), (err: CodedError) => err.details.hubCode === 400);
    assert.deepEqual(await cli.command('crf'), [], 'the client is usable after an error');
  });

  it('times out a silent hub, then resynchronises before the next command', async () => {
    const hub = new SimulatedHub({ baudRate: 0 });
    const cli = new HubCli(hub.connect(), 100);
    await cli.command('crf');
    hub.unresponsive = true;
    await assert.rejects(cli.command('state'), (err: CodedError) => err.code === 'HUB_TIMEOUT');
    hub.unresponsive = false;
    const before = hub.commands.length;
    const rows = await cli.command('state 1');
    assert.equal(rows.length, 1);
    assert.deepEqual(hub.commands.slice(before), ['state 1']);
  });

  it('gives up on a reply that never ends and recovers afterwards', async () => {
    const link = new ScriptedLink();
    const cli = new HubCli(link, 1000);
    const reply = cli.command('state');
    link.reply('>> ');
    await settle();
    link.reply('state\r\n' + 'x'.repeat(20_000));
    await assert.rejects(reply, (err: CodedError) => err.code === 'HUB_PROTOCOL');
    const next = cli.command('crf');
    await settle();
    assert.equal(link.written.at(-1), '\x03\r\n', 'resynchronises after the overlong reply');
    link.reply('\r\n>> ');
    await settle();
    link.reply('crf\r\n>> ');
    assert.deepEqual(await next, []);
  });

  it('reports the boot loader and a closed link', async () => {
    const link = new ScriptedLink();
    const cli = new HubCli(link, 1000);
    const reply = cli.command('id');
    link.reply('\r\nboot>> ');
    await assert.rejects(reply, (err: CodedError) => err.code === 'HUB_BOOTLOADER');
    const pending = cli.command('id');
    await link.close();
    await assert.rejects(pending, (err: CodedError) => err.code === 'HUB_DISCONNECTED');
    await assert.rejects(cli.command('id'), (err: CodedError) => err.code === 'HUB_DISCONNECTED');
  });
});
