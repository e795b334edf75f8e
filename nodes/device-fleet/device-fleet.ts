import { join } from 'node:path';
import type { NodeAPI, NodeDef } from 'node-red';
import type { Pool } from 'pg';
import { CodedError } from '../lib/coded-error';
import { Directory, SIGN_IN_ATTEMPTS } from '../lib/directory/directory';
import { Fleet } from '../lib/fleet/fleet';
import { shiftTimes } from '../lib/fleet/readiness';
import { PostgresFleetStore } from '../lib/fleet/postgres-fleet-store';
import { fleetDatabase } from '../lib/fleet/postgres-pool';
import { FleetChannels } from '../lib/fleet/postgres-listener';
import { WebhookRelay, type RelayingAdapter } from '../lib/fleet/webhook-relay';
import type { MdmAdapter } from '../lib/mdm/mdm-adapter';
import { useNodeRedCatalogs } from '../shared/catalogs';
import { mdmServerOf, type DeviceFleetNode } from '../shared/config-nodes';
import { defaultOf, numberField } from '../shared/defaults';
import { cartScreenRoutes } from './cart-screen-routes';
import { fleetRoutes, WARD_PATH } from './fleet-routes';

export interface DeviceFleetDef extends NodeDef {
  mdm: string;
  /** usbmuxd's socket, or `sim:<name>`; empty: no USB identity. */
  usb?: string;
  /** Seconds a dock and a USB attach may be apart and still belong together. */
  usbWindow?: string;
  /** The locker app's bundle id: locked to it when checked in, configured with the user. */
  lockerApp?: string;
  /** Seconds a person has to unplug a phone unlocked for them. */
  checkoutDeadline?: string;
  /** Hours a phone may stay out before it is Overdue (a shift and a little more); 0: never. */
  lendingPeriod?: string;
  shiftTimes?: string;
  readyMinimum?: string;
  lowStockLead?: string;
  /** Devices one user may hold at once. */
  userLimit?: string;
  /** The pool's connections to the fleet database (one more listens). */
  databaseConnections?: string;
  /** Phones charged below this (%) are not handed out. */
  batteryThreshold?: string;
  /** `GET <url>?id=<badge>` -> `{"user": "..."}`. */
  badgeLookupUrl?: string;
  /** Where badges are looked up: `http` (badgeLookupUrl) or `ldap` (the directory). */
  badgeLookup?: string;
  /** The hospital's directory, which checks sign-ins at the cart (and badges with `ldap`): `ldap://` or `ldaps://`; empty: none. */
  ldapUrl?: string;
  ldapBase?: string;
  ldapBadgeAttribute?: string;
  ldapUserAttribute?: string;
  ldapNameAttribute?: string;
  /** The DN of the group whose members may take phones; empty: anyone found. */
  ldapGroup?: string;
  /** PEM of the CA that signed the directory's certificate (a hospital's own). */
  ldapCa?: string;
  /** `file` (one cart, the default) or `postgres` (carts sharing a fleet). */
  store?: string;
  /** With `file`: the audit trail in `one` file (the default) or a file a month (`monthly`), all kept. */
  auditFiles?: string;
  /** `postgres://host:port/database?sslmode=...`, without a password (that is in the credentials). */
  databaseUrl?: string;
  /** This host's cart in a shared fleet. */
  cart?: string;
  /** Its checked-out phones on the ward page (WARD_PATH). */
  wardPage?: boolean;
  /** Lost Mode for Overdue phones (and phones an admin marks Lost), with these texts (placeholders allowed). */
  lostMode?: boolean;
  lostModeMessage?: string;
  lostModePhone?: string;
  lostModeFootnote?: string;
  /** The cart's touch screen at CART_PATH/<cart or this node's id>. */
  cartScreen?: boolean;
  /** Its beeps, 0 (mute) to 100 %. */
  cartScreenVolume?: string;
  /** `en-US` or `de`; empty: the browser's. */
  cartScreenLanguage?: string;
}

interface DeviceFleetCredentials {
  databaseUser?: string;
  databasePassword?: string;
  /** Basic auth for the ward page; empty: none. */
  wardUser?: string;
  wardPassword?: string;
  /** The service account the cart searches the directory as. */
  ldapBindDn?: string;
  ldapBindPassword?: string;
  /** Asked once by each browser that opens the cart screen; empty: none. */
  cartScreenPin?: string;
}

type DeviceFleet = DeviceFleetNode<DeviceFleetCredentials>;

export default function (RED: NodeAPI): void {
  useNodeRedCatalogs(RED);
  const routes = fleetRoutes(RED);
  const screens = cartScreenRoutes(RED);

  function DeviceFleet(this: DeviceFleet, config: DeviceFleetDef): void {
    RED.nodes.createNode(this, config);
    const mdmNode = mdmServerOf(RED, config.mdm);
    const usb = (config.usb ?? '').trim();
    const field = (name: string): number => numberField('device-fleet', config, name);
    const text = (key: string, vars?: Record<string, unknown>): string => RED._(key, vars as Record<string, string | number> | undefined);
    const cart = (config.cart ?? '').trim();
    const setting = (name: keyof DeviceFleetDef): string => String(config[name] ?? '').trim() || String(defaultOf('device-fleet', name) ?? '');
    let pool: Pool | undefined;
    let channels: FleetChannels | undefined;
    let shared: PostgresFleetStore | undefined;
    try {
      if (config.store === 'postgres') {
        const url = (config.databaseUrl ?? '').trim();
        if (!url || !cart) throw new CodedError('INVALID_CONFIG', text('device-fleet.errors.no-database'));
        const { databaseUser, databasePassword } = this.credentials ?? {};
        const database = fleetDatabase({
          url,
          user: databaseUser,
          password: databasePassword,
          applicationName: `device-checkout ${cart}`,
          max: field('databaseConnections'),
        });
        pool = database.pool;
        // A connection lost while idle (the server restarted): said; the next query opens a new one.
        pool.on('error', (err) => this.warn(text('device-fleet.errors.database-connection', { message: err.message })));
        // What the other carts change and the webhooks they receive, on one connection of its own.
        channels = new FleetChannels({
          connect: database.connect,
          onLost: (err) => this.warn(text('device-fleet.errors.listening-down', { message: err.message })),
          onBack: () => {
            this.log(text('device-fleet.errors.listening-back'));
            this.fleet?.compareAgain();
          },
        });
        shared = new PostgresFleetStore({ pool, cart });
      }
      const ldapUrl = setting('ldapUrl');
      const badgesFromDirectory = setting('badgeLookup') === 'ldap';
      if (badgesFromDirectory && !ldapUrl) throw new CodedError('INVALID_CONFIG', text('device-fleet.errors.no-directory'));
      const directory = ldapUrl
        ? new Directory({
            url: ldapUrl,
            base: setting('ldapBase'),
            badgeAttribute: setting('ldapBadgeAttribute'),
            userAttribute: setting('ldapUserAttribute'),
            nameAttribute: setting('ldapNameAttribute'),
            group: setting('ldapGroup'),
            ca: setting('ldapCa'),
            bindDn: this.credentials?.ldapBindDn?.trim(),
            bindPassword: this.credentials?.ldapBindPassword,
            onLocked: (user, minutes) => this.warn(text('device-fleet.errors.sign-in-locked-log', { user, minutes, attempts: SIGN_IN_ATTEMPTS })),
          })
        : undefined;
      const shifts = shiftTimes(config.shiftTimes ?? '');
      if (!shifts) throw new CodedError('INVALID_CONFIG', text('device-fleet.errors.shift-times'));
      this.fleet = new Fleet({
        id: this.id,
        dataDir: join(RED.settings.userDir ?? '.', 'device-checkout'),
        store: shared,
        auditFiles: config.auditFiles === 'monthly' ? 'monthly' : 'one',
        rules: {
          deadlineSeconds: field('checkoutDeadline'),
          lendingHours: field('lendingPeriod'),
          userLimit: field('userLimit'),
          batteryThreshold: field('batteryThreshold') / 100,
        },
        lockerApp: (config.lockerApp ?? '').trim(),
        badgeLookupUrl: setting('badgeLookupUrl'),
        directory,
        badgesFromDirectory,
        usb: usb ? { path: usb, windowMs: field('usbWindow') * 1000 } : undefined,
        readiness: shifts.length > 0 ? { shifts, minimum: field('readyMinimum'), leadMs: field('lowStockLead') * 60_000 } : undefined,
        mdm: () => mdmNode?.adapter,
        lostMode: config.lostMode
          ? { Message: config.lostModeMessage?.trim(), PhoneNumber: config.lostModePhone?.trim(), Footnote: config.lostModeFootnote?.trim() }
          : undefined,
        cartScreen: Boolean(config.cartScreen),
        text,
        log: { info: (m) => this.log(m), warn: (m) => this.warn(m), error: (m) => this.error(m) },
      });
    } catch (err) {
      // A damaged fleet file is left for the admin: guessing the phones' statuses could hand one out twice.
      channels?.close();
      void pool?.end();
      this.unavailable = err as CodedError;
      // A setting the dialog lacks is not a damaged file: each says where to look.
      const advice = (err as CodedError).code === 'INVALID_CONFIG' ? 'device-fleet.errors.misconfigured' : 'device-fleet.errors.unavailable';
      this.error(RED._(advice, { message: (err as Error).message }));
      return;
    }
    const { fleet } = this;
    // NanoMDM posts to one cart: with a shared fleet, what any cart receives reaches them all.
    const adapter = mdmNode?.adapter;
    const secret = mdmNode?.relaySecret;
    const relay =
      pool && channels && secret && adapter && 'takeRelayed' in adapter
        ? new WebhookRelay({
            pool,
            database: config.databaseUrl ?? '',
            channels,
            cart,
            adapter: adapter as MdmAdapter & RelayingAdapter,
            secret,
            text,
            log: { warn: (m) => this.warn(m) },
          })
        : undefined;
    void relay?.start();
    const unlist = routes.directory.add(this.id, fleet);
    // The fleet view shows what every cart changes, not only this one.
    const unfollow = channels && shared?.followOtherCarts(channels);
    const { wardUser, wardPassword } = this.credentials ?? {};
    const unserve = config.wardPage ? routes.serveWard(this.id, { user: wardUser, password: wardPassword }) : () => undefined;
    if (config.wardPage) {
      const path = `${WARD_PATH}/${this.id}`;
      if (!wardUser && !wardPassword) this.warn(text('device-fleet.errors.ward-no-login', { path }));
      else if (!wardUser || !wardPassword) this.error(text('device-fleet.errors.ward-half-login', { path }));
    }
    const unserveScreen = fleet.screen
      ? screens.serve([this.id, ...(cart ? [cart] : [])], {
          screen: fleet.screen,
          title: cart || config.name || text('device-fleet.label.default'),
          pin: this.credentials?.cartScreenPin,
          lang: setting('cartScreenLanguage'),
          volume: field('cartScreenVolume') / 100,
        })
      : () => undefined;
    this.on('close', async (done: () => void) => {
      unlist();
      unserve();
      unserveScreen();
      unfollow?.();
      await relay?.close();
      channels?.close();
      await fleet.close();
      await pool?.end();
      done();
    });
  }

  RED.nodes.registerType<DeviceFleet, DeviceFleetDef, object, DeviceFleetCredentials>('device-fleet', DeviceFleet, {
    credentials: {
      databaseUser: { type: 'text' },
      databasePassword: { type: 'password' },
      wardUser: { type: 'text' },
      wardPassword: { type: 'password' },
      ldapBindDn: { type: 'text' },
      ldapBindPassword: { type: 'password' },
      cartScreenPin: { type: 'password' },
    },
  });
}
