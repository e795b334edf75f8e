import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { WorkflowRuns } from '../lib/workflow/workflow-run';

/** A failure of one of this package's action nodes, as `on-failure` receives it. */
export interface Failure {
  error: Error & { code?: string };
  msg: Record<string, unknown>;
  source: { id: string; type: string; name?: string };
}

type Handler = (failure: Failure) => void;

/** `on-failure` handlers by the workflow they watch: a group id or a flow tab id. */
const handlers = new Map<string, Set<Handler>>();
let runs: WorkflowRuns | undefined;

/** The triggering messages of recent workflow runs, shared by every node of the package. */
export function workflowRuns(RED: NodeAPI): WorkflowRuns {
  runs ??= new WorkflowRuns((msg) => RED.util.cloneMessage(msg as NodeMessage) as Record<string, unknown>);
  return runs;
}

/** Registers an `on-failure` for `scope`; returns the call that removes it again. */
export function watchFailures(scope: string, handler: Handler): () => void {
  const set = handlers.get(scope) ?? new Set<Handler>();
  handlers.set(scope, set.add(handler));
  return () => {
    set.delete(handler);
    if (set.size === 0) handlers.delete(scope);
  };
}

/** The workflow a node belongs to: its group when an `on-failure` watches that group, else its flow tab. */
export function workflowOf(node: Node): string {
  const { g, z } = node as Node & { g?: string };
  return g && handlers.has(g) ? g : z;
}

/** Hands a failure to the `on-failure` nodes of the node's workflow, if it has any. */
export function reportFailure(node: Node, error: Failure['error'], msg: Record<string, unknown>): void {
  const failure: Failure = { error, msg, source: { id: node.id, type: node.type, ...(node.name && { name: node.name }) } };
  for (const handler of [...(handlers.get(workflowOf(node)) ?? [])]) handler(failure);
}
