import type { Device } from '../device';
import { DEVICE_HOME, type DeviceRecord } from './fleet-store';

/**
 * What an admin is alerted to: a phone out past the lending period, back after it, docked away
 * from its Device Home, docked and still not charged after hours, one a workflow gave up on,
 * one that did not unlock for the person tapping, a cart expected short of ready phones at its
 * next shift change.
 */
export const FLEET_EVENTS = ['overdue', 'returned-late', 'wrong-cart', 'low-battery', 'failed', 'unlock-failed', 'low-stock'] as const;

/** A cart expected short of ready phones at its next shift change. */
export interface Stock {
  /** A shared fleet's cart. */
  cart?: string;
  /** The shift change, ISO 8601. */
  shift: string;
  /** Phones expected ready then, the fewest wanted, and the phones docked now. */
  ready: number;
  minimum: number;
  docked: number;
}

export interface FleetEvent {
  event: (typeof FLEET_EVENTS)[number];
  /** The phone it is about; none for a cart's `low-stock`, which says its `stock`. */
  device?: Device & { udid: string };
  stock?: Stock;
  /** When it happened, ISO 8601. */
  at: string;
  /** Why, as the audit trail says it (an error code, the lending period). */
  why?: string;
}

// What a message may carry of a record: not the fleet's bookkeeping (battery, deadline...).
export const asDevice = ({
  udid,
  serial,
  name,
  cart,
  hub,
  hubId,
  port,
  status,
  user,
  userName,
  attributes,
  wrongCart,
  overdue,
}: DeviceRecord): Device & { udid: string } =>
  Object.fromEntries(
    Object.entries({
      udid,
      serial,
      name,
      cart,
      home: attributes[DEVICE_HOME],
      wrongCart,
      hub,
      hubId,
      port,
      status,
      overdue,
      user,
      userName,
      attributes,
    }).filter(([, v]) => v !== undefined),
  ) as unknown as Device & { udid: string };

/** The fleet's alerts, told to every listener (the fleet-event nodes). */
export class FleetEvents {
  private readonly listeners = new Set<(event: FleetEvent) => void>();

  /** Calls `listener` with every fleet event from now on; returns what stops it. */
  on(listener: (event: FleetEvent) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  announce(event: FleetEvent['event'], device: Device & { udid: string }, why?: string): void {
    this.tell({ event, device, at: new Date().toISOString(), ...(why && { why }) });
  }

  announceStock(stock: Stock, why: string): void {
    this.tell({ event: 'low-stock', stock, at: new Date().toISOString(), why });
  }

  private tell(event: FleetEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
