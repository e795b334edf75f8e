import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './support';

/** Node-RED as an admin runs it: its own process and HTTP, flows deployed over the admin API. */
export interface NodeRedChild {
  url: string;
  userDir: string;
  /** Everything it printed. */
  output(): string;
  deploy(flows: object[]): Promise<void>;
  /** A clean stop (SIGTERM). */
  stop(): Promise<void>;
  /** The power cut: SIGKILL, no chance to save anything. */
  kill(): Promise<void>;
}

/** Starts one; with `restart`, on the user directory and port of an earlier one. */
export async function startNodeRedChild(restart?: { userDir: string; url: string }): Promise<NodeRedChild> {
  const args = restart ? [restart.userDir, new URL(restart.url).port] : [];
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, 'node-red-process.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c));
  child.stderr!.on('data', (c: Buffer) => (output += c));
  const { url, userDir } = JSON.parse(await waitFor('Node-RED up', () => /^\{"url".*$/m.exec(output)?.[0], 30000)) as { url: string; userDir: string };
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  return {
    url,
    userDir,
    output: () => output,
    async deploy(flows) {
      const deployed = await fetch(`${url}flows`, { method: 'POST', headers: { 'content-type': 'application/json', 'node-red-deployment-type': 'full' }, body: JSON.stringify(flows) });
      assert.ok(deployed.ok, `deploy failed: ${deployed.status} ${await deployed.text()}`);
    },
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  };
}
