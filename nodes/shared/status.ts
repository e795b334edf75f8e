import type { Node } from 'node-red';

/** What a node's status dot says: one look per meaning, the same on every node of the package. */
const LOOKS = {
  /** Done; connected. */
  ok: { fill: 'green', shape: 'dot' },
  /** Waiting on a device; a hub connecting; a retry on its way. */
  waiting: { fill: 'yellow', shape: 'ring' },
  /** This message failed. */
  failed: { fill: 'red', shape: 'dot' },
  /** Nothing works until something outside the node changes: its configuration, the disk, the hub, the MDM's webhooks. */
  blocked: { fill: 'red', shape: 'ring' },
  /** Handed to another workflow. */
  handedOn: { fill: 'blue', shape: 'dot' },
} as const;

export type StatusLook = keyof typeof LOOKS;

/** `text` comes from a catalog (RED._), never a secret. */
export function showStatus(node: Node, look: StatusLook, text: string): void {
  node.status({ ...LOOKS[look], text });
}

export function clearStatus(node: Node): void {
  node.status({});
}

/** The one way a node fails a message: a red status saying what and why, then `fail(err)` (`done`, so Catch nodes see it). */
export function failMessage(node: Node, err: Error, text: string, fail: (err: Error) => void): void {
  showStatus(node, 'failed', text);
  fail(err);
}

/**
 * A connection's changes as the log hears them (a status is seen only in the editor): why it is
 * away, once per reason rather than at every retry, and that it is back.
 */
export function logAwayAndBack(say: { away(reason: string): void; back(): void }): (change: { status: string; reason?: string }) => void {
  let said: string | undefined;
  return ({ status, reason }) => {
    if (status === 'disconnected' && reason && reason !== 'closed' && reason !== said) say.away(reason);
    if (status === 'connected' && said) say.back();
    if (status !== 'connecting') said = status === 'disconnected' ? reason : undefined;
  };
}
