/** An `on-failure` node's settings. */
export interface FailurePolicy {
  /** Re-send the workflow's triggering message. */
  retry: boolean;
  /** Attempts in all, the first included: 1 to 10. */
  maxAttempts: number;
  /** When retrying is off or used up, send the failure on to another workflow. */
  runOther: boolean;
}

export const MAX_ATTEMPTS = 10;

/** `of`: the attempts allowed in all, after clamping to 1-10. */
export type FailureDecision = { action: 'retry'; attempt: number; of: number } | { action: 'run-other' } | { action: 'give-up' };

/** What to do after attempt number `attempt` (1 for the first run) of a workflow failed. */
export function decide(policy: FailurePolicy, attempt: number): FailureDecision {
  const maxAttempts = Math.min(MAX_ATTEMPTS, Math.max(1, Math.floor(policy.maxAttempts) || 1));
  if (policy.retry && attempt < maxAttempts) return { action: 'retry', attempt: attempt + 1, of: maxAttempts };
  return policy.runOther ? { action: 'run-other' } : { action: 'give-up' };
}
