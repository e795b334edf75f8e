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

/**
 * The triggering messages of recent runs, for retries: the message as it entered the
 * workflow's first action. Bounded: the oldest runs are forgotten first.
 */
export class WorkflowRuns {
  private readonly triggers = new Map<string, Carrier>();

  constructor(
    private readonly clone: (msg: Carrier) => Carrier,
    private readonly limit = 1000,
  ) {}

  /** Stamps `msg` with a new run of `scope` unless it already is one. */
  enter(scope: string, msg: Carrier): WorkflowRun {
    const current = runOf(msg);
    if (current?.scope === scope) return current;
    const run: WorkflowRun = { scope, id: randomUUID(), attempt: 1 };
    const trigger = this.clone(msg);
    delete trigger[RUN_PROPERTY];
    this.triggers.set(run.id, trigger);
    if (this.triggers.size > this.limit) this.triggers.delete(this.triggers.keys().next().value!);
    msg[RUN_PROPERTY] = run;
    return run;
  }

  /** The message that starts attempt `attempt` of the run: its trigger (else `fallback`), stamped. */
  retry(run: WorkflowRun, attempt: number, fallback: Carrier): Carrier {
    const msg = this.clone(this.triggers.get(run.id) ?? fallback);
    msg[RUN_PROPERTY] = { ...run, attempt };
    return msg;
  }
}
