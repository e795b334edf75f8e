import { seal, unseal } from '../sealed';
import { readJson, setAside, SnapshotFile } from '../json-file';
import type { Enrolment } from './mdm-adapter';

interface VaultFile {
  version: 1;
  salt: string;
  iv: string;
  tag: string;
  data: string;
}

/** Part of the key: vaults already written open with it, so it never changes. */
const PURPOSE = 'enrolments';

type Stored = Omit<Enrolment, 'unlockToken'> & { unlockToken?: string; [key: string]: unknown };

/**
 * What an MDM's check-ins taught (serials, unlock tokens), kept across restarts in one file,
 * encrypted (AES-256-GCM) with a key derived from the MDM's own secret: the user directory
 * alone, or a backup of it, does not give away a token that clears a phone's passcode. A
 * file that cannot be read (damaged, or written under another secret) is set aside, renamed,
 * never overwritten: the vault starts empty, devices teach their tokens again at their next
 * TokenUpdate, and the old file can still be restored (with its old secret).
 */
export class EnrolmentVault {
  /** What loading found unreadable and where it was put, for the log. */
  readonly notices: string[] = [];
  private readonly snapshots: SnapshotFile;

  constructor(
    private readonly file: string,
    private readonly secret: string,
  ) {
    this.snapshots = new SnapshotFile(file);
  }

  load(): Enrolment[] {
    try {
      const stored = readJson<VaultFile | undefined>(this.file, undefined);
      if (stored === undefined) return [];
      if (stored?.version !== 1) throw new Error('not a version 1 vault');
      const [salt, iv, tag, data] = [stored.salt, stored.iv, stored.tag, stored.data].map((part) => Buffer.from(part, 'base64'));
      const plain = unseal({ salt, iv, tag, data }, this.secret, PURPOSE).toString('utf8');
      return (JSON.parse(plain) as Stored[]).map(({ unlockToken, ...rest }) => ({
        ...rest,
        ...(unlockToken && { unlockToken: Buffer.from(unlockToken, 'base64') }),
      }));
    } catch (err) {
      const aside = setAside(this.file);
      this.notices.push(
        `${this.file} could not be read (${(err as Error).message}; damaged, or sealed with another API key): kept as ${aside}, starting empty`,
      );
      return [];
    }
  }

  /** Resolves once the disk has these enrolments (or newer ones). */
  save(enrolments: Enrolment[]): Promise<void> {
    const plain = JSON.stringify(
      enrolments.map(({ unlockToken, ...rest }) => ({ ...rest, ...(unlockToken && { unlockToken: unlockToken.toString('base64') }) })),
    );
    const { salt, iv, tag, data } = seal(Buffer.from(plain, 'utf8'), this.secret, PURPOSE);
    const file: VaultFile = {
      version: 1,
      salt: salt.toString('base64'),
      iv: iv.toString('base64'),
      tag: tag.toString('base64'),
      data: data.toString('base64'),
    };
    return this.snapshots.write(file);
  }
}
