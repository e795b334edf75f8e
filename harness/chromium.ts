import { chromium, type Browser, type Page } from 'playwright-core';
import type { DeviceRecord } from '../nodes/lib/fleet/fleet-store';

/** Debian's Chromium, headless, quiet (no network of its own); `args` adds to its switches (a language, say). */
export function launchChromium(args: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...args,
    ],
  });
}

/** A docked, healthy, Checked In phone's record on hub `hub` (Cart A), with `fields` over it. */
export const phoneRecord = (udid: string, fields: Partial<DeviceRecord>): DeviceRecord => ({
  udid,
  docked: true,
  status: 'Checked In',
  attributes: {},
  healthy: true,
  hubId: 'hub',
  hub: 'Cart A',
  ...fields,
});

/** Opens the sidebar's Device fleet tab as an admin does, on Node-RED 4 and 5: the editor's menu, View, Device fleet. */
export async function openFleetTab(page: Page): Promise<void> {
  await page.click('#red-ui-header-button-sidemenu');
  await page.hover('#menu-item-view-menu');
  await page.click('#menu-item-view-menu-device-checkout-fleet');
}
