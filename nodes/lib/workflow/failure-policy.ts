/** An `on-failure` node's settings. */
export interface FailurePolicy {
  /** Re-send the workflow's triggering message. */
  retry: boolean;
  /** Attempts in all, the first included (its range is the field's rule: resources/device-checkout.js). */
  maxAttempts: number;
  /** When retrying is off or used up, send the failure on to another workflow. */
  runOther: boolean;
}

/** `of`: the attempts allowed in all. */
export type FailureDecision = { action: 'retry'; attempt: number; of: number } | { action: 'run-other' } | { action: 'give-up' };

/** What to do after attempt number `attempt` (1 for the first run) of a workflow failed. */
export function decide(policy: FailurePolicy, attempt: number): FailureDecision {
  if (policy.retry && attempt < policy.maxAttempts) return { action: 'retry', attempt: attempt + 1, of: policy.maxAttempts };
  return policy.runOther ? { action: 'run-other' } : { action: 'give-up' };
}
