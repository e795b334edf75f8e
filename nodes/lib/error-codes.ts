/**
 * Every error code the package raises, and what it means to whoever meets it: the HTTP status
 * the fleet's admin API answers with, whether trying again later can help without anyone
 * acting, whether the action was cut off by a redeploy or stop (not by the device), and
 * whether the phone itself did not answer or refused. Its text for people is the catalog
 * entry `device-fleet.codes.<CODE>` (en-US and de); the README and the nodes' help list them.
 */
interface Meaning {
  readonly area: 'node' | 'input' | 'fleet' | 'store' | 'storage' | 'hub' | 'usb' | 'mdm' | 'device' | 'webhook' | 'badge' | 'directory' | 'reader';
  readonly http: number;
  readonly retry: boolean;
  readonly cutOff?: true;
  readonly unresponsive?: true;
}

export const ERROR_CODES = {
  // The node and its configuration
  INVALID_CONFIG: { area: 'node', http: 409, retry: false },
  NODE_CLOSED: { area: 'node', http: 503, retry: true, cutOff: true },
  NO_FLEET: { area: 'node', http: 409, retry: false },
  NO_MDM: { area: 'node', http: 409, retry: false },
  NO_USB: { area: 'node', http: 409, retry: false },
  NO_BADGE_LOOKUP: { area: 'node', http: 409, retry: false },
  NO_DIRECTORY: { area: 'node', http: 409, retry: false },
  UNSUPPORTED: { area: 'node', http: 501, retry: false },

  // What a message, a flow or a request asked for
  NO_DEVICE: { area: 'input', http: 400, retry: false },
  NO_USER: { area: 'input', http: 400, retry: false },
  NO_SERIAL: { area: 'input', http: 400, retry: false },
  INVALID_ACTION: { area: 'input', http: 400, retry: false },
  INVALID_ATTRIBUTE: { area: 'input', http: 400, retry: false },
  MISSING_ATTRIBUTE: { area: 'input', http: 400, retry: false },
  INVALID_COMMAND: { area: 'input', http: 400, retry: false },
  INVALID_LED: { area: 'input', http: 400, retry: false },
  INVALID_PORT: { area: 'input', http: 400, retry: false },
  INVALID_QUERY: { area: 'input', http: 400, retry: false },
  INVALID_REASON: { area: 'input', http: 400, retry: false },
  INVALID_REQUEST: { area: 'input', http: 400, retry: false },
  INVALID_STATUS: { area: 'input', http: 400, retry: false },
  INVALID_UDID: { area: 'input', http: 400, retry: false },
  INVALID_USER: { area: 'input', http: 400, retry: false },
  INVALID_WALLPAPER: { area: 'input', http: 400, retry: false },
  FOREIGN_ORIGIN: { area: 'input', http: 403, retry: false },

  // The fleet's rules and records
  CART_BUSY: { area: 'fleet', http: 409, retry: true },
  USER_HAS_DEVICE: { area: 'fleet', http: 409, retry: false },
  NO_DEVICE_AVAILABLE: { area: 'fleet', http: 409, retry: true },
  UNPLUG_TIMEOUT: { area: 'fleet', http: 408, retry: true },
  UNLOCK_FAILED: { area: 'fleet', http: 502, retry: true },
  NO_UNLOCK_TOKEN: { area: 'fleet', http: 409, retry: false },
  DEVICE_NOT_FOUND: { area: 'fleet', http: 404, retry: false },
  FLEET_NOT_FOUND: { area: 'fleet', http: 404, retry: false },
  NOT_FAILED: { area: 'fleet', http: 409, retry: false },
  NOT_LOST: { area: 'fleet', http: 409, retry: false },
  DEVICE_IN_USE: { area: 'fleet', http: 409, retry: true },
  RETIRED: { area: 'fleet', http: 409, retry: false },

  // The badge lookup service
  BADGE_NOT_FOUND: { area: 'badge', http: 404, retry: false },
  BADGE_LOOKUP_FAILED: { area: 'badge', http: 502, retry: true },

  // The hospital's directory (LDAP): badges, sign-in at the cart, the group that may take phones
  SIGN_IN_FAILED: { area: 'directory', http: 401, retry: false },
  SIGN_IN_LOCKED: { area: 'directory', http: 429, retry: true },
  NOT_IN_GROUP: { area: 'directory', http: 403, retry: false },
  DIRECTORY_UNAVAILABLE: { area: 'directory', http: 503, retry: true },

  // The shared fleet database
  STORE_UNAVAILABLE: { area: 'store', http: 503, retry: true },
  STORE_BUSY: { area: 'store', http: 503, retry: true },
  SCHEMA_TOO_NEW: { area: 'store', http: 503, retry: false },

  // Files on this host's disk
  STORAGE_DAMAGED: { area: 'storage', http: 500, retry: false },
  STORAGE_FAILED: { area: 'storage', http: 500, retry: false },

  // The smart hub on its serial port
  HUB_OPEN_FAILED: { area: 'hub', http: 503, retry: true },
  READER_OPEN_FAILED: { area: 'reader', http: 503, retry: true },
  HUB_DISCONNECTED: { area: 'hub', http: 503, retry: true },
  HUB_TIMEOUT: { area: 'hub', http: 504, retry: true },
  HUB_PROTOCOL: { area: 'hub', http: 502, retry: true },
  HUB_BOOTLOADER: { area: 'hub', http: 503, retry: false },
  HUB_FATAL: { area: 'hub', http: 502, retry: false },
  HUB_COMMAND_ERROR: { area: 'hub', http: 502, retry: false },
  HUB_UNKNOWN_FAMILY: { area: 'hub', http: 502, retry: false },
  HUB_CONTRADICTION: { area: 'hub', http: 502, retry: true },
  HUB_BAD_ROW: { area: 'hub', http: 502, retry: true },
  HUB_REBOOTED: { area: 'hub', http: 503, retry: true },

  // USB: usbmuxd and the phone's lockdown service
  USB_UNREACHABLE: { area: 'usb', http: 503, retry: true },
  USB_DISCONNECTED: { area: 'usb', http: 503, retry: true },
  USB_PROTOCOL: { area: 'usb', http: 502, retry: true },
  USB_REFUSED: { area: 'usb', http: 502, retry: false },
  NOT_PAIRED: { area: 'usb', http: 409, retry: false },
  LOCKDOWN_ERROR: { area: 'usb', http: 502, retry: false },
  DEVICE_GONE: { area: 'usb', http: 409, retry: true },

  // The MDM server and Apple's device enrolment
  MDM_UNREACHABLE: { area: 'mdm', http: 503, retry: true },
  MDM_TIMEOUT: { area: 'mdm', http: 504, retry: true },
  MDM_THROTTLED: { area: 'mdm', http: 503, retry: true },
  MDM_SERVER_ERROR: { area: 'mdm', http: 502, retry: true },
  MDM_UNCERTAIN: { area: 'mdm', http: 502, retry: false },
  MDM_REJECTED: { area: 'mdm', http: 502, retry: false },
  MDM_PROTOCOL: { area: 'mdm', http: 502, retry: false },
  MDM_AUTH: { area: 'mdm', http: 502, retry: false },
  MDM_CLOSED: { area: 'mdm', http: 503, retry: true, cutOff: true },
  DEVICE_UNKNOWN: { area: 'mdm', http: 404, retry: false },
  DEP_UNREACHABLE: { area: 'mdm', http: 503, retry: true },
  DEP_ASSIGN_FAILED: { area: 'mdm', http: 502, retry: false },

  // The phone, through its MDM
  DEVICE_TIMEOUT: { area: 'device', http: 504, retry: true, unresponsive: true },
  DEVICE_ERROR: { area: 'device', http: 502, retry: false, unresponsive: true },
  RTS_UNSUPPORTED: { area: 'device', http: 409, retry: false },
  ACTIVATION_LOCKED: { area: 'device', http: 409, retry: false },
  RTS_NOT_RETURNED: { area: 'device', http: 504, retry: false },

  // Webhooks the MDM posts to the cart
  WEBHOOK_UNSIGNED: { area: 'webhook', http: 401, retry: false },
  WEBHOOK_BAD_SIGNATURE: { area: 'webhook', http: 401, retry: false },
  WEBHOOK_INVALID: { area: 'webhook', http: 400, retry: false },
} as const satisfies Record<string, Meaning>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** What `code` means; a code from outside the package (a plain Error) means a 500 nobody can retry. */
export function meaning(code: string | undefined): Meaning {
  return (code !== undefined && Object.hasOwn(ERROR_CODES, code) ? ERROR_CODES[code as ErrorCode] : UNKNOWN) as Meaning;
}

const UNKNOWN: Meaning = { area: 'node', http: 500, retry: false };
