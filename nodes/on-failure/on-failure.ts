import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { decide, type FailurePolicy } from '../lib/workflow/failure-policy';
import { RUN_PROPERTY, runOf } from '../lib/workflow/workflow-run';
import { watchFailures, workflowRuns, type Failure } from '../shared/failure-routing';
import { showStatus } from '../shared/status';
import { numberField } from '../shared/defaults';

interface OnFailureDef extends NodeDef {
  retry?: boolean;
  maxAttempts?: string;
  runOther?: boolean;
}

interface CaughtMessage extends NodeMessage {
  error?: { message?: string; code?: string; source?: { id: string; type: string; name?: string } };
}

/** How long a failure is remembered, so one also wired in through a Catch node counts once. */
const SEEN_FOR_MS = 60_000;

/**
 * Placed in a workflow (a group, else the flow tab), takes the failures of this package's
 * action nodes there, and of anything a Catch node wires in: output 1 re-sends the workflow's
 * triggering message (attempts counted per run, at most `maxAttempts` in all), output 2
 * passes the failed message on to another workflow once retrying is off or used up.
 */
export default function (RED: NodeAPI): void {
  function OnFailure(this: Node, config: OnFailureDef): void {
    RED.nodes.createNode(this, config);
    const policy: FailurePolicy = {
      retry: config.retry === true,
      maxAttempts: numberField('on-failure', config, 'maxAttempts'),
      runOther: config.runOther === true,
    };
    const seen = new Map<string, number>();
    const { g, z } = this as Node & { g?: string };

    const handle = (failure: Failure): void => {
      // A failure that never passed one of our actions (from a Catch) starts its run here.
      const run = runOf(failure.msg) ?? workflowRuns(RED).enter(g ?? z, failure.msg);
      const now = Date.now();
      for (const [key, at] of seen) if (now - at > SEEN_FOR_MS) seen.delete(key);
      const key = `${String(failure.msg._msgid)}:${run.attempt}:${failure.source.id}:${failure.error.code ?? failure.error.message}`;
      if (seen.has(key)) return;
      seen.set(key, now);

      const code = failure.error.code ?? 'ERROR';
      const decision = decide(policy, run.attempt);
      if (decision.action === 'retry') {
        showStatus(this, 'waiting', RED._('on-failure.status.retrying', { attempt: decision.attempt, max: decision.of, code }));
        this.send([workflowRuns(RED).retry(run, decision.attempt, failure.msg) as NodeMessage, null]);
      } else if (decision.action === 'run-other') {
        showStatus(this, 'handedOn', RED._('on-failure.status.other', { code }));
        const out = RED.util.cloneMessage(failure.msg as NodeMessage) as CaughtMessage & Record<string, unknown>;
        delete out[RUN_PROPERTY]; // the other workflow starts a run of its own
        out.error = { message: failure.error.message, code, source: failure.source };
        this.send([null, out]);
      } else {
        showStatus(this, 'failed', RED._('on-failure.status.gave-up', { code }));
      }
    };

    const stop = watchFailures(g ?? z, handle);
    this.on('close', stop);

    // From a Catch node: Node-RED puts the failure on msg.error.
    this.on('input', (msg: CaughtMessage, _send, done) => {
      const { error } = msg;
      if (!error) return done();
      const { error: _error, ...rest } = msg;
      const err = Object.assign(new Error(error.message ?? 'failed'), { code: error.code });
      handle({ error: err, msg: rest, source: error.source ?? { id: 'catch', type: 'catch' } });
      done();
    });
  }

  RED.nodes.registerType('on-failure', OnFailure);
}
