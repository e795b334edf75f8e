import type { Client, Entry } from 'ldapts';
import { catalogText, CodedError, type CatalogText } from '../coded-error';
import type { BadgeHolder } from '../fleet/badge-lookup';
import { userKey } from '../fleet/person';
import { LoginThrottle } from '../login-throttle';

export interface DirectoryOptions {
  /** `ldap://host:port` or `ldaps://host:port`. */
  url: string;
  /** Where people are searched (the whole subtree). */
  base: string;
  /** The attribute holding a person's badge number (`employeeID`). */
  badgeAttribute: string;
  /** The attribute holding the user id the fleet knows her by (`sAMAccountName`). */
  userAttribute: string;
  /** The attribute holding her name as her colleagues read it (`displayName`). */
  nameAttribute: string;
  /** A group's DN a person must be a member of to get a phone; empty: anyone found. */
  group?: string;
  /** PEM certificates to trust for `ldaps://` (a hospital's own CA); empty: the system's. */
  ca?: string;
  /** The service account the cart searches as; empty: an anonymous search. */
  bindDn?: string;
  bindPassword?: string;
  /** How long connecting and each request may take. */
  timeoutMs?: number;
  now?: () => number;
  /** Said once when a user's sign-in is refused at this cart for a while. */
  onLocked?: (user: string, minutes: number) => void;
}

/** Wrong passwords one user may type at a cart within the window before she is refused there for a while. */
export const SIGN_IN_ATTEMPTS = 5;
const LOCKOUT_MS = 5 * 60_000;

/** LDAP result codes the directory's answers are told apart by. */
const INVALID_CREDENTIALS = 49;
const NO_SUCH_OBJECT = 32;

/** Longest user id and password a sign-in form may send; more is no one's. */
const MAX_USER = 256;
const MAX_PASSWORD = 1024;

type Ldapts = typeof import('ldapts');

/**
 * The hospital's directory (Active Directory or any LDAP server) as the cart asks it: who holds a
 * badge, and whether a person's password is hers (a search as the service account, then a bind
 * as the person found: the password is checked by the directory, never kept or compared here).
 * Search values are sent as LDAP filter values, never spliced into filter text, so a user name
 * such as `*)(uid=*` finds nobody. One connection per question: a person's bind never shares a
 * connection with anyone else's question.
 */
export class Directory {
  private readonly lockouts: LoginThrottle;
  /** Each user's sign-in in progress: the next waits for it, so a burst of guesses cannot pass the lock together. */
  private readonly signingIn = new Map<string, Promise<unknown>>();

  constructor(private readonly options: DirectoryOptions) {
    if (!/^ldaps?:\/\/[^/]/i.test(options.url)) throw new CodedError('INVALID_CONFIG', catalogText('device-fleet.errors.directory-url', { url: options.url }));
    this.lockouts = new LoginThrottle({
      freeFailures: SIGN_IN_ATTEMPTS,
      maxFailures: SIGN_IN_ATTEMPTS,
      lockoutMs: LOCKOUT_MS,
      windowMs: LOCKOUT_MS,
      now: options.now,
    });
  }

  /** Who holds the badge: BADGE_NOT_FOUND when nobody (or more than one person) does, NOT_IN_GROUP outside the group. */
  async badgeHolder(badge: string): Promise<BadgeHolder> {
    return this.session(async (client, ldap) => {
      await this.bindService(client);
      const entry = await this.findOne(client, ldap, this.options.badgeAttribute, badge);
      if (!entry) throw new CodedError('BADGE_NOT_FOUND', catalogText('device-fleet.errors.badge-unknown'));
      await this.checkGroup(client, ldap, entry.dn);
      return this.holder(entry);
    });
  }

  /**
   * The person whose password this is. A wrong password, an unknown user and an empty password
   * all answer SIGN_IN_FAILED alike; the fifth failure for one user within five minutes refuses
   * her at this cart for five minutes (SIGN_IN_LOCKED).
   */
  async signIn(user: string, password: string): Promise<BadgeHolder> {
    const id = user.trim();
    // One person however her name is typed (case, compatibility forms, invisible characters): one count.
    const key = userKey(id);
    const attempt = (this.signingIn.get(key) ?? Promise.resolve()).catch(() => undefined).then(() => this.attemptSignIn(id, key, password));
    this.signingIn.set(key, attempt);
    try {
      return await attempt;
    } finally {
      if (this.signingIn.get(key) === attempt) this.signingIn.delete(key);
    }
  }

  private async attemptSignIn(id: string, key: string, password: string): Promise<BadgeHolder> {
    const verdict = this.lockouts.verdict(key);
    if (verdict.refused) {
      throw new CodedError('SIGN_IN_LOCKED', catalogText('device-fleet.errors.sign-in-locked', { minutes: Math.ceil(verdict.retryAfterMs / 60_000) }));
    }
    const failed = (): CodedError => {
      if (this.lockouts.failed(key)) this.options.onLocked?.(id, LOCKOUT_MS / 60_000);
      return new CodedError('SIGN_IN_FAILED', catalogText('device-fleet.errors.sign-in-failed'));
    };
    // An empty password would be an anonymous bind, which a directory accepts: never a sign-in.
    if (!id || !password || id.length > MAX_USER || password.length > MAX_PASSWORD) throw failed();
    return this.session(async (client, ldap) => {
      await this.bindService(client);
      const entry = await this.findOne(client, ldap, this.options.userAttribute, id);
      if (!entry) throw failed();
      try {
        await client.bind(entry.dn, password);
      } catch (err) {
        if (resultCode(err) === INVALID_CREDENTIALS) throw failed();
        throw err;
      }
      // The group is read as the service account: a person may not be allowed to read it.
      await this.bindService(client);
      await this.checkGroup(client, ldap, entry.dn);
      this.lockouts.succeeded(key);
      return this.holder(entry);
    });
  }

  /** Runs one question on its own connection; whatever goes wrong on the way is DIRECTORY_UNAVAILABLE, with why. */
  private async session<T>(ask: (client: Client, ldap: Ldapts) => Promise<T>): Promise<T> {
    const ldap = await loadLdapts();
    const timeout = this.options.timeoutMs ?? 5000;
    const { ca } = this.options;
    const client = new ldap.Client({ url: this.options.url, timeout, connectTimeout: timeout, ...(ca && { tlsOptions: { ca } }) });
    try {
      return await ask(client, ldap);
    } catch (err) {
      if (err instanceof CodedError) throw err;
      throw unavailable(resultCode(err) === NO_SUCH_OBJECT ? catalogText('device-fleet.errors.directory-no-base') : (err as Error).message);
    } finally {
      void client.unbind().catch(() => undefined);
    }
  }

  private async bindService(client: Client): Promise<void> {
    const { bindDn, bindPassword } = this.options;
    if (!bindDn) return;
    try {
      await client.bind(bindDn, bindPassword ?? '');
    } catch (err) {
      if (resultCode(err) === INVALID_CREDENTIALS) throw unavailable(catalogText('device-fleet.errors.directory-service-refused'));
      throw err;
    }
  }

  /** The one entry whose attribute has this value; none when nobody or several people match. */
  private async findOne(client: Client, ldap: Ldapts, attribute: string, value: string): Promise<Entry | undefined> {
    const { userAttribute, nameAttribute } = this.options;
    const { searchEntries } = await client.search(this.options.base, {
      scope: 'sub',
      filter: new ldap.EqualityFilter({ attribute, value }),
      attributes: [userAttribute, nameAttribute],
    });
    return searchEntries.length === 1 ? searchEntries[0] : undefined;
  }

  private async checkGroup(client: Client, ldap: Ldapts, dn: string): Promise<void> {
    const { group } = this.options;
    if (!group) return;
    const { searchEntries } = await client.search(group, {
      scope: 'base',
      filter: new ldap.OrFilter({
        filters: [new ldap.EqualityFilter({ attribute: 'member', value: dn }), new ldap.EqualityFilter({ attribute: 'uniqueMember', value: dn })],
      }),
      attributes: ['1.1'],
    });
    if (searchEntries.length === 0) throw new CodedError('NOT_IN_GROUP', catalogText('device-fleet.errors.not-in-group'));
  }

  private holder(entry: Entry): BadgeHolder {
    const user = firstText(entry[this.options.userAttribute]);
    if (!user) throw unavailable(catalogText('device-fleet.errors.directory-no-user', { attribute: this.options.userAttribute }));
    const name = firstText(entry[this.options.nameAttribute]);
    return { user, ...(name && { name }) };
  }
}

let ldapts: Ldapts | undefined;

/** `ldapts` is an optional dependency (only carts that ask a directory need it): missing, it is said so. Loaded once. */
async function loadLdapts(): Promise<Ldapts> {
  try {
    return (ldapts ??= await import('ldapts'));
  } catch {
    throw unavailable(catalogText('device-fleet.errors.no-ldapts'));
  }
}

/** DIRECTORY_UNAVAILABLE, saying why: a text of ours, or what the connection or the server said. */
function unavailable(why: CatalogText | string): CodedError {
  return new CodedError('DIRECTORY_UNAVAILABLE', typeof why === 'string' ? catalogText('device-fleet.errors.directory-unavailable', { reason: why }) : why);
}

function resultCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

function firstText(value: Entry[string] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  const text = Buffer.isBuffer(first) ? first.toString('utf8') : first;
  return typeof text === 'string' && text.trim() ? text.trim() : undefined;
}
