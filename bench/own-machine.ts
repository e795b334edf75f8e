import type { ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';

/**
 * A simulated machine (hubs, the MDM) in a child process runs ahead of the Node-RED being
 * measured where the host allows it (root in CI): on a machine of its own it would never wait
 * for that Node-RED's CPU, and its waits must not be counted as the product's.
 */
export function asOwnMachine<T extends ChildProcess>(child: T): T {
  try {
    setPriority(child.pid!, -10);
  } catch {
    // Not permitted here: the child shares the CPU as it comes, and the tail shows it.
  }
  return child;
}
