import type { ErrorCode } from './error-codes';

/** A text for people, named by its catalog key (`smart-hub.errors.timeout`) and the values it names. */
export interface CatalogText {
  readonly key: string;
  readonly values?: Record<string, unknown>;
}

export const catalogText = (key: string, values?: Record<string, unknown>): CatalogText => ({ key, values });

type Render = (key: string, values?: Record<string, unknown>) => string;

/** Until the node layer hands over Node-RED's catalogs (and in plain library use), a text reads as its key and values. */
let render: Render = (key, values) => (values ? `${key} ${JSON.stringify(values)}` : key);

/** Renders every catalog text from now on in the host's language: the node layer calls this with RED._ once. */
export function useCatalogs(catalogs: Render): void {
  render = catalogs;
}

/** The words of a catalog text, in the host's language. */
export function say(text: CatalogText): string {
  return render(text.key, text.values);
}

/**
 * An error with a stable machine-readable `code` (one of ERROR_CODES), so Catch nodes,
 * `on-failure` and tests can tell failures apart without parsing messages. Raised in
 * nodes/lib, its message is a catalog text, kept as `text` and rendered in the host's language.
 */
export class CodedError extends Error {
  readonly text?: CatalogText;

  constructor(
    readonly code: ErrorCode,
    message: string | CatalogText,
    readonly details: Record<string, unknown> = {},
  ) {
    super(typeof message === 'string' ? message : say(message));
    if (typeof message !== 'string') this.text = message;
    // What Node-RED shows (`${name}: ${message}`) then starts with the code: "CART_BUSY: ...".
    this.name = code;
  }
}

export function errorCode(err: unknown): ErrorCode | undefined {
  return err instanceof CodedError ? err.code : undefined;
}
