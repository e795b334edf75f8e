import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { deployFlows } from '../demo/node-red-runtime';
import { waitFor } from './support';

/** A program of this package in its own process, with what it printed. */
export interface Child<T> {
  /** What `ready` found in its output. */
  ready: T;
  output(): string;
  /** A clean stop (SIGTERM). */
  stop(): Promise<void>;
  /** The power cut: SIGKILL, no chance to save anything. */
  kill(): Promise<void>;
}

/** Runs `script` (from dist/) until `ready` finds what it waits for in the output. */
export async function startChild<T>(script: string, args: string[], env: NodeJS.ProcessEnv, ready: (output: string) => T | undefined): Promise<Child<T>> {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const found = await waitFor(`${script} up`, () => ready(output), 30000);
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  return { ready: found, output: () => output, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}

/** The warnings and errors in a Node-RED log, less the two every fresh user directory prints (in English or German). */
export function logProblems(output: string): string[] {
  return output
    .split('\n')
    .filter(
      (line) =>
        /\[(warn|error)\]/.test(line) &&
        !/Projects disabled|Encrypted credentials not found|Projekte deaktiviert|Verschlüsselte Credentials nicht gefunden/.test(line),
    );
}

/** Node-RED as an admin runs it: its own process and HTTP, flows deployed over the admin API. */
export interface NodeRedChild extends Child<unknown> {
  url: string;
  userDir: string;
  deploy(flows: object[]): Promise<void>;
}

/** Starts one; with `restart`, on the user directory and port of an earlier one; with `settingsFile`, under that file's settings. */
export async function startNodeRedChild(restart?: { userDir: string; url: string }, settingsFile?: string): Promise<NodeRedChild> {
  const args = restart ? [restart.userDir, new URL(restart.url).port] : [];
  const child = await startChild(
    join(__dirname, 'node-red-process.js'),
    args,
    settingsFile ? { NODE_RED_SETTINGS: settingsFile } : {},
    (output) => /^\{"url".*$/m.exec(output)?.[0],
  );
  const { url, userDir } = JSON.parse(child.ready) as { url: string; userDir: string };
  return { ...child, url, userDir, deploy: (flows) => deployFlows(url, flows) };
}
