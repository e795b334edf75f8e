/** `msg.device`: the device a message is about. */
export interface Device {
  udid?: string;
  serial?: string;
  name?: string;
  /** The hub's name, as people read it. */
  hub?: string;
  /** The hub's config node id: what the fleet keys ports on. */
  hubId?: string;
  port?: number;
  status?: string;
  user?: string;
  /** The Device User's display name from the badge lookup (or `msg.user.name`). */
  userName?: string;
  attributes?: Record<string, unknown>;
  /** In a shared fleet: the cart it is docked at (or was last seen at). */
  cart?: string;
  /** Its Device Home cart (the `Device Home` attribute). */
  home?: string;
  /** Docked at another cart than its home. */
  wrongCart?: boolean;
  /** Out with its user past the fleet's lending period. */
  overdue?: boolean;
}
