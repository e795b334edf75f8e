/**
 * An error with a stable machine-readable `code`, so Catch nodes, `on-failure` and tests
 * can tell failures apart without parsing messages.
 */
export class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    // What Node-RED shows (`${name}: ${message}`) then starts with the code: "CART_BUSY: ...".
    this.name = code;
  }
}

export function errorCode(err: unknown): string | undefined {
  return err instanceof CodedError ? err.code : undefined;
}
