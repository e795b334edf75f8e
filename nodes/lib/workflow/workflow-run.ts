import { randomUUID } from 'node:crypto';

/** Marks a message as one run of one workflow, so retries of it can be counted. */
export interface WorkflowRun {
  /** The workflow: a group or flow tab id. */
  scope: string;
  id: string;
  /** 1 for the first run, then one more for each retry. */
  attempt: number;
}

/** Where the run travels on the message (an underscore: Node-RED's convention for bookkeeping). */
export const RUN_PROPERTY = '_deviceCheckoutRun';

type Carrier = Record<string, unknown>;

export function runOf(msg: Carrier): WorkflowRun | undefined {
  const run = msg[RUN_PROPERTY] as WorkflowRun | undefined;
  return run && typeof run.scope === 'string' && typeof run.id === 'string' && Number.isInteger(run.attempt) ? run : undefined;
}

export interface RunLimits {
  /** Runs whose trigger is kept. */
  count: number;
  /** Bytes (estimated) of all kept triggers together. */
  bytes: number;
  /** A trigger larger than this is not kept: its retry re-sends the message as it failed. */
  messageBytes: number;
}

const LIMITS: RunLimits = { count: 1000, bytes: 32 * 1024 * 1024, messageBytes: 1024 * 1024 };

/**
 * The triggering messages of recent runs, for retries: the message as it entered the
 * workflow's first action. Bounded in count and in bytes: the oldest runs are forgotten first.
 */
export class WorkflowRuns {
  private readonly triggers = new Map<string, { msg: Carrier; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly clone: (msg: Carrier) => Carrier,
    private readonly limits: RunLimits = LIMITS,
  ) {}

  /** Bytes (estimated) the kept triggers take. */
  get keptBytes(): number {
    return this.bytes;
  }

  /** Stamps `msg` with a new run of `scope` unless it already is one. */
  enter(scope: string, msg: Carrier): WorkflowRun {
    const current = runOf(msg);
    if (current?.scope === scope) return current;
    const run: WorkflowRun = { scope, id: randomUUID(), attempt: 1 };
    const { [RUN_PROPERTY]: _previous, req: _req, res: _res, ...content } = msg;
    const bytes = sizeOf(content, this.limits.messageBytes);
    if (bytes <= this.limits.messageBytes) {
      this.triggers.set(run.id, { msg: this.clone(msg), bytes });
      delete this.triggers.get(run.id)!.msg[RUN_PROPERTY];
      this.bytes += bytes;
      while (this.triggers.size > this.limits.count || this.bytes > this.limits.bytes) {
        const [oldest, kept] = this.triggers.entries().next().value!;
        this.triggers.delete(oldest);
        this.bytes -= kept.bytes;
      }
    }
    msg[RUN_PROPERTY] = run;
    return run;
  }

  /** The message that starts attempt `attempt` of the run: its trigger (else `fallback`), stamped. */
  retry(run: WorkflowRun, attempt: number, fallback: Carrier): Carrier {
    const msg = this.clone(this.triggers.get(run.id)?.msg ?? fallback);
    msg[RUN_PROPERTY] = { ...run, attempt };
    return msg;
  }
}

/**
 * Roughly how many bytes `value` takes (strings at two a character), counting no further than
 * just past `limit`: enough to tell a small message from one to leave alone.
 */
function sizeOf(value: unknown, limit: number): number {
  let total = 0;
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0 && total <= limit) {
    const item = stack.pop();
    if (typeof item === 'string') total += 2 * item.length;
    else if (item === null || typeof item !== 'object') total += 8;
    else if (ArrayBuffer.isView(item)) total += item.byteLength;
    else if (!seen.has(item)) {
      seen.add(item);
      for (const [key, child] of Object.entries(item)) {
        total += 2 * key.length;
        stack.push(child);
      }
    }
  }
  return total;
}
