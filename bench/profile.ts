import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/** Profiles this process's CPU from now until the returned function writes it to `file` (a .cpuprofile, as Chrome's DevTools read it): one phase of a bench, not its set-up. */
export async function startProfile(): Promise<(file: string) => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async (file) => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}
