import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium } from '../harness/chromium';
import type { DeviceRecord } from '../nodes/lib/fleet/fleet-store';
import { startNodeRedChild, type NodeRedChild } from '../harness/node-red-child';
import { median, ms } from './stats';

/** A fleet of `count` phones as a hospital's would look: most docked, some out, a few overdue or failed. */
function seededFleet(count: number): Record<string, DeviceRecord> {
  const devices: Record<string, DeviceRecord> = {};
  for (let i = 0; i < count; i++) {
    const udid = `00008110-${String(i).padStart(16, '0')}`;
    const out = i % 5 === 0;
    devices[udid] = {
      udid,
      serial: `F17X${String(i).padStart(8, '0')}`,
      name: `Ward ${(i % 40) + 1} / ${(i % 12) + 1}`,
      hubId: `hub-${i % 40}`,
      hub: `Cart ${(i % 40) + 1}`,
      port: (i % 12) + 1,
      docked: !out,
      status: out ? 'Checked Out' : i % 97 === 0 ? 'Failed' : 'Checked In',
      attributes: { 'Device Home': `ward-${(i % 40) + 1}` },
      battery: (i % 100) / 100,
      healthy: true,
      ...(out && {
        user: `nurse${i}`,
        userName: `Nurse Number ${i}`,
        checkedOutAt: new Date(Date.UTC(2026, 11, 2, 6, i % 60)).toISOString(),
        ...(i % 35 === 0 && { overdue: true }),
      }),
    };
  }
  return devices;
}

interface ViewSample {
  devices: number;
  /** From opening the tab to its rows drawn (ms), one per editor load. */
  firstPaint: number[];
  /** Of which fetching the list (request to its last byte, ms). */
  fetch: number[];
  /** From a change's message arriving to the list drawn again (ms), one per change. */
  update: number[];
  /** From asking for the change (the admin API) to the tab showing it, through the store and RED.comms (ms). */
  endToEnd: number[];
  /** One live update as sent (bytes), and the whole list's answer. */
  messageBytes: number;
  listBytes: number;
}

async function openEditor(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('.red-ui-palette-node', { timeout: 60_000 });
}

/** Node-RED with one fleet of `devices` phones, its editor opened `loads` times, then `changes` changes made over the admin API. */
async function measureView(devices: number, loads: number, changes: number): Promise<ViewSample> {
  const red: NodeRedChild = await startNodeRedChild();
  const browser = await launchChromium();
  try {
    mkdirSync(join(red.userDir, 'device-checkout'), { recursive: true });
    const fleet = seededFleet(devices);
    writeFileSync(join(red.userDir, 'device-checkout', 'fleet-fleet.json'), JSON.stringify({ version: 2, devices: fleet }));
    await red.deploy([{ id: 'fleet', type: 'device-fleet', mdm: '', usb: '', lockerApp: 'org.example.locker', lendingPeriod: '0' }]);
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const firstPaint: number[] = [];
    const fetched: number[] = [];
    for (let load = 0; load < loads; load++) {
      await openEditor(page, red.url);
      // Opened once the editor has settled, as an admin clicks it (the editor reopens on the
      // tab it closed on: the info tab is left open each time, so the fleet tab loads on the click).
      await page.evaluate(() => (window as unknown as { RED: { sidebar: { show(id: string): void } } }).RED.sidebar.show('info'));
      await page.waitForTimeout(1000);
      firstPaint.push(
        await page.evaluate(async () => {
          const RED = (window as unknown as { RED: { sidebar: { show(id: string): void } } }).RED;
          RED.sidebar.show('device-checkout-fleet');
          const view = document.querySelector('.dc-fleet-view') as HTMLElement;
          // Set by the tab once its list, fetched, is drawn.
          while (view.dataset.firstPaint === undefined) await new Promise((resolve) => requestAnimationFrame(resolve));
          return Number(view.dataset.firstPaint);
        }),
      );
      await page.evaluate(() => (window as unknown as { RED: { sidebar: { show(id: string): void } } }).RED.sidebar.show('info'));
      fetched.push(
        await page.evaluate(() => performance.getEntriesByType('resource').find((e) => e.name.endsWith('/device-checkout/devices'))?.duration ?? NaN),
      );
    }
    // Each change: the time from its message reaching the editor to the list drawn again.
    await page.evaluate(() => {
      const w = window as unknown as { RED: { comms: { subscribe(topic: string, f: () => void): void } }; arrivals: number[] };
      w.arrivals = [];
      w.RED.comms.subscribe('device-checkout/device', () => w.arrivals.push(Date.now()));
    });
    const update: number[] = [];
    const endToEnd: number[] = [];
    const udids = Object.keys(fleet);
    let messageBytes = 0;
    for (let i = 0; i < changes; i++) {
      const drawnBefore = await page.evaluate(() => Number((document.querySelector('.dc-fleet-view') as HTMLElement).dataset.drawn));
      const asked = Date.now();
      const res = await fetch(`${red.url}device-checkout/devices/${udids[(i * 7) % udids.length]}/attribute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Bench', value: String(i) }),
      });
      if (res.status !== 200) throw new Error(`the change was refused: ${res.status} ${await res.text()}`);
      messageBytes = Buffer.byteLength(JSON.stringify(((await res.json()) as { device: object }).device));
      update.push(
        await page.evaluate(async (before) => {
          const view = document.querySelector('.dc-fleet-view') as HTMLElement;
          const w = window as unknown as { arrivals: number[] };
          while (Number(view.dataset.drawn) === before || w.arrivals.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
          return Number(view.dataset.drawn) - w.arrivals.splice(0).at(-1)!;
        }, drawnBefore),
      );
      endToEnd.push((await page.evaluate(() => Number((document.querySelector('.dc-fleet-view') as HTMLElement).dataset.drawn))) - asked);
    }
    const listBytes = Buffer.byteLength(await (await fetch(`${red.url}device-checkout/devices`)).text());
    return { devices, firstPaint, fetch: fetched, update, endToEnd, messageBytes, listBytes };
  } finally {
    await browser.close();
    await red.stop();
  }
}

export interface FleetViewResult {
  baseline: ViewSample;
  large: ViewSample;
}

/** The fleet tab with `devices` phones against one of 50, in the same run. */
export async function measureFleetView(devices: number, loads: number, changes: number): Promise<FleetViewResult> {
  const baseline = await measureView(50, loads, changes);
  const large = await measureView(devices, loads, changes);
  return { baseline, large };
}

export function formatFleetView({ baseline, large }: FleetViewResult): string {
  const paint = median(large.firstPaint);
  const update = median(large.update);
  return [
    `fleet tab, ${large.devices} phones: first paint ${ms(paint)}, of which fetching the list ${ms(median(large.fetch))} (median of ${large.firstPaint.length} editor loads; ${(paint / median(baseline.firstPaint)).toFixed(2)}x ${baseline.devices} phones' ${ms(median(baseline.firstPaint))})`,
    `  one change drawn: ${ms(update)} after its message (median of ${large.update.length}; ${baseline.devices} phones: ${ms(median(baseline.update))}; a 60 Hz frame is 16.7 ms); ${ms(median(large.endToEnd))} from the request that made it (${baseline.devices} phones: ${ms(median(baseline.endToEnd))})`,
    `  one live update: ${large.messageBytes} bytes, the whole list ${(large.listBytes / 1024).toFixed(0)} KiB (${(large.listBytes / large.messageBytes).toFixed(0)}x)`,
  ].join('\n');
}
