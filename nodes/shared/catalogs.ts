import type { NodeAPI } from 'node-red';
import { useCatalogs } from '../lib/coded-error';

const PACKAGE = 'node-red-contrib-device-checkout';

/**
 * Texts raised in nodes/lib (errors, warnings) are rendered from Node-RED's catalogs in the
 * runtime's language. A key's first part names the node type whose catalog holds it
 * (`smart-hub.errors.timeout`). Every node that reaches nodes/lib calls this as it registers.
 */
export function useNodeRedCatalogs(RED: NodeAPI): void {
  useCatalogs((key, values) => {
    const qualified = `${PACKAGE}/${key.slice(0, key.indexOf('.'))}:${key}`;
    return RED._(
      qualified,
      values && Object.fromEntries(Object.entries(values).map(([name, value]) => [name, typeof value === 'number' ? value : String(value ?? '')])),
    );
  });
}
