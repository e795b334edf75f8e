import { SimulatedIntune, type SimulatedIntuneOptions } from '../sim/intune-server';
import { SimulatedWorkspaceOne } from '../sim/workspace-one-server';
import type { SimulatedDevice } from '../sim/simulated-device';

/** An MDM vendor's simulator as a flow uses it: the mdm-server node's fields and credentials, its phones. */
export interface VendorMdm {
  vendor: string;
  /** The `mdm-server` node's fields beyond id, type and vendor. */
  fields: Record<string, string>;
  credentials: Record<string, string>;
  /** Sets a wallpaper per phone (Intune does not: there her name reaches the locker app, as its primary user). */
  wallpapers: boolean;
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
    wallpapers: true,
    enrol: async (phone) => sim.enrol(phone),
    invalidCommands: () => sim.invalidCommands,
    stop: () => sim.stop(),
  };
}

/** The tenant, app registration and groups of the simulated Intune. */
export const INTUNE = {
  tenantId: 'ward-hospital.onmicrosoft.com',
  clientId: '6f1d2c3b-0a4e-4b8f-9c2d-1e0f3a4b5c6d',
  clientSecret: 'intune-e2e-secret~Qx8',
  checkedOutGroup: '3c9e5a10-7d2b-4f61-8a0e-6b1c2d3e4f50',
  lockedGroup: '8a4f2e61-1b3c-4d5e-9f60-7a8b9c0d1e2f',
};

/** Nurses in the simulated Entra ID: Alice by her on-premises account name, Bob by his UPN. */
export const ENTRA_USERS = [
  {
    id: 'a1c7e0b2-5d4f-4c3b-8a29-0e1f2d3c4b5a',
    userPrincipalName: 'alice.example@ward-hospital.org',
    onPremisesSamAccountName: 'alice',
    displayName: 'Alice Example',
  },
  { id: 'b2d8f1c3-6e5a-4d4c-9b3a-1f2e3d4c5b6a', userPrincipalName: 'bob@ward-hospital.org', displayName: 'Bob Builder' },
];

/**
 * Intune, simulated on loopback, set up as its admin would for `lockerApp`: the kiosk profile
 * assigned to the locked group, the locker app's configuration to both, with the primary user's tokens.
 */
export async function startIntune(lockerApp: string, options: Partial<SimulatedIntuneOptions> = {}): Promise<SimulatedIntune> {
  const sim = new SimulatedIntune({
    ...INTUNE,
    users: ENTRA_USERS,
    policies: [
      { group: INTUNE.lockedGroup, appLock: lockerApp, appConfiguration: { app: lockerApp, values: { CheckoutStatus: 'Checked In' } } },
      {
        group: INTUNE.checkedOutGroup,
        appConfiguration: { app: lockerApp, values: { CheckoutStatus: 'Checked Out', UserId: '{{userprincipalname}}', UserName: '{{username}}' } },
      },
    ],
    ...options,
  });
  await sim.start();
  return sim;
}

/** Microsoft Intune, simulated on loopback, as the mdm-server node is set up for it. */
export async function intuneMdm(lockerApp: string): Promise<VendorMdm> {
  const sim = await startIntune(lockerApp);
  const { tenantId, checkedOutGroup, lockedGroup, clientId, clientSecret } = INTUNE;
  return {
    vendor: 'intune',
    fields: { url: sim.url, tokenUrl: sim.url, tenantId, checkedOutGroup, lockedGroup, pollInterval: '100' },
    credentials: { clientId, clientSecret },
    wallpapers: false,
    enrol: async (phone) => sim.enrol(phone),
    invalidCommands: () => sim.invalidCommands,
    stop: () => sim.stop(),
  };
}
