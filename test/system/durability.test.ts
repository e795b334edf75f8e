import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../harness/support';
import { builtFile } from '../../nodes/lib/package-root';
import { FileFleetStore } from '../../nodes/lib/fleet/file-fleet-store';

const lib = (...path: string[]) => JSON.stringify(builtFile('nodes', 'lib', ...path));

/**
 * What a power cut may not undo, traced at the system calls (strace): the file's data is
 * flushed before it is renamed into place, and the directory after, so the rename itself is
 * on the disk.
 */
function syscallsWriting(script: string, dir: string): string[] {
  const trace = join(dir, 'strace.txt');
  execFileSync('strace', ['-f', '-qq', '-e', 'trace=openat,fsync,fdatasync,rename,renameat,renameat2', '-o', trace, process.execPath, '-e', script]);
  return readFileSync(trace, 'utf8')
    .split('\n')
    .filter((line) => line.includes(dir) || /fsync|fdatasync/.test(line));
}

/** The order of events for `file`: `sync:<path>` for each fsync of a descriptor opened on a path, `rename:<to>`. */
function flushes(lines: string[]): string[] {
  const openFds = new Map<string, string>();
  const events: string[] = [];
  for (const line of lines) {
    const open = /openat\(AT_FDCWD, "([^"]+)",.*\) = (\d+)/.exec(line);
    if (open) openFds.set(open[2], open[1]);
    const sync = /f(?:data)?sync\((\d+)\)\s+= 0/.exec(line);
    if (sync && openFds.has(sync[1])) events.push(`sync:${openFds.get(sync[1])}`);
    const renamed = /rename(?:at2?)?\(.*"([^"]+)",.*"([^"]+)"/.exec(line);
    if (renamed) events.push(`rename:${renamed[2]}`);
  }
  return events;
}

describe('durable writes (traced with strace)', () => {
  it('the fleet file: data flushed, renamed into place, directory flushed', () => {
    const dir = tempDir('durable');
    const file = join(dir, 'fleet.json');
    const events = flushes(
      syscallsWriting(`new (require(${lib('fleet', 'file-fleet-store.js')}).FileFleetStore)(${JSON.stringify(file)}).setAttribute('U1', 'Ward', '3')`, dir),
    );
    const tmp = events.find((e) => e.startsWith('sync:') && e.endsWith('.tmp'));
    assert.ok(tmp, events.join('\n'));
    assert.deepEqual(events.slice(events.indexOf(tmp), events.indexOf(tmp) + 3), [tmp, `rename:${file}`, `sync:${dir}`]);
  });

  it('the enrolment vault (unlock tokens): the same', () => {
    const dir = tempDir('durable');
    const file = join(dir, 'enrolments.json');
    const events = flushes(
      syscallsWriting(
        `new (require(${lib('mdm', 'enrolment-vault.js')}).EnrolmentVault)(${JSON.stringify(file)}, 'key').save([{ udid: 'U1', unlockToken: Buffer.from('t') }])`,
        dir,
      ),
    );
    const tmp = events.find((e) => e.startsWith('sync:') && e.endsWith('.tmp'));
    assert.ok(tmp, events.join('\n'));
    assert.deepEqual(events.slice(events.indexOf(tmp), events.indexOf(tmp) + 3), [tmp, `rename:${file}`, `sync:${dir}`]);
  });

  it('leaves a whole fleet file when the process is killed mid-write', async () => {
    // A child hammers the store; it is killed at some moment between two writes or inside one.
    const file = join(tempDir('fleet'), 'fleet.json');
    const script = `
      const { FileFleetStore } = require(${lib('fleet', 'file-fleet-store.js')});
      const store = new FileFleetStore(${JSON.stringify(file)});
      (async () => { for (let i = 0; ; i++) { await store.setAttribute('U', 'counter', String(i)); if (i === 50) process.stdout.write('go'); } })();`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => child.stdout!.once('data', resolve));
    await new Promise((resolve) => setTimeout(resolve, 30 + Math.random() * 50));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { devices: Record<string, { attributes: { counter: string } }> };
    const counter = Number(saved.devices.U.attributes.counter);
    assert.ok(counter >= 50, `the last complete write survived (${counter})`);
    assert.equal((await new FileFleetStore(file).device('U'))?.attributes.counter, String(counter));
  });
});
