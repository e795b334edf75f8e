import { SimulatedWorkspaceOne } from '../sim/workspace-one-server';
import type { SimulatedDevice } from '../sim/simulated-device';

/** An MDM vendor's simulator as a flow uses it: the mdm-server node's fields and credentials, its phones. */
export interface VendorMdm {
  vendor: string;
  /** The `mdm-server` node's fields beyond id, type and vendor. */
  fields: Record<string, string>;
  credentials: Record<string, string>;
  enrol(phone: SimulatedDevice): Promise<void>;
  /** Apple commands that broke Apple's schema on their way to the phones. */
  invalidCommands(): unknown[];
  stop(): Promise<void>;
}

const WS1_SECRETS = { clientId: 'cart-oauth-client', clientSecret: 'ws1-e2e-secret-19d4', tenantCode: 'ws1-e2e-tenant-77a0' };

/** Workspace ONE UEM, simulated on loopback, with an OAuth client. */
export async function workspaceOneMdm(): Promise<VendorMdm> {
  const sim = new SimulatedWorkspaceOne(WS1_SECRETS);
  await sim.start();
  return {
    vendor: 'workspace-one',
    fields: { url: sim.url, tokenUrl: sim.tokenUrl, pollInterval: '100' },
    credentials: WS1_SECRETS,
    enrol: async (phone) => sim.enrol(phone),
    invalidCommands: () => sim.invalidCommands,
    stop: () => sim.stop(),
  };
}
