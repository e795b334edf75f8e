import type { StaffMember } from '../sim/openldap';

/** The tests' hospital staff: two who may take phones (one with a name and password beyond ASCII), one who may not. */
export const STAFF = {
  alice: { user: 'aarcher', name: 'Alice Archer', badge: '0004711', password: 'Nightshift-2026!', allowed: true },
  joerg: { user: 'jgross', name: 'Jörg Groß', badge: '0004712', password: 'ä€ pass (with spaces)', allowed: true },
  bob: { user: 'bbaker', name: 'Bob Baker', badge: '0004713', password: 'visitor', allowed: false },
} satisfies Record<string, StaffMember>;
