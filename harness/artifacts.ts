import { join } from 'node:path';
import { PACKAGE_ROOT } from '../nodes/lib/package-root';

/** Screenshots of the browser tests stay here after a run. */
export const ARTIFACTS = join(PACKAGE_ROOT, 'test-artifacts');
