import { formatVendorTaps, measureVendorTaps } from './vendor-taps';
import { formatLatency, measureLatency } from './latency';
import { formatPollingCost, measurePollingCost } from './polling-cost';
import {
  formatIntuneThroughput,
  formatMdmThroughput,
  formatWs1Throughput,
  measureIntuneThroughput,
  measureMdmThroughput,
  measureWs1Throughput,
} from './mdm-throughput';
import { formatBadgeToReady, formatShiftChange, formatWallpaper, measureBadgeToReady, measureShiftChange, measureWallpaper } from './checkout';
import { formatStoreTap, measureStoreTap } from './shared-fleet';
import { formatFleetView, measureFleetView } from './fleet-view';
import { formatAuditExport, measureAuditExport } from './audit-export';
import { formatInsights, measureInsights } from './insights';
import { formatReaderToScreen, formatScreenMemory, formatSignIn, measureReaderToScreen, measureScreenMemory, measureSignIn } from './cart-front';
import { formatPrep, measurePrep } from './prep';
import { formatHospital, measureHospital } from './hospital';
import { formatWardCheckouts, formatWardShiftChange, measureWardCheckouts, measureWardShiftChange } from './ward';

// `npm run bench`: medians and ratios against baselines measured in this same run.
async function main(): Promise<void> {
  const only = process.argv[2];
  if (only === 'mdm') return mdmThroughput();
  if (only === 'checkout') return checkout();
  if (only === 'fleet') return sharedFleet();
  if (only === 'view') return fleetView();
  if (only === 'export') return auditExport();
  if (only === 'insights') return insights();
  if (only === 'front') return cartFront();
  if (only === 'prep') return prep();
  // `hospital [carts phones-per-cart taps minutes processes]`: smaller runs while working on it.
  if (only === 'hospital') return hospital(...process.argv.slice(3).map(Number));
  console.log('Dock-to-event latency over a pty (real serialport binding, hub replies paced at 115200 baud)');
  for (const [interval, samples] of [
    [250, 120],
    [1000, 60],
  ]) {
    console.log('  ' + formatLatency(await measureLatency(interval, samples)));
  }
  console.log('Polling cost');
  console.log('  ' + formatPollingCost(await measurePollingCost(16, 3, 15)));
  await mdmThroughput();
  await checkout();
  await sharedFleet();
  await fleetView();
  await auditExport();
  await insights();
  await cartFront();
  await prep();
  await hospital();
}

async function hospital(carts = 100, perCart = 50, taps = 1000, minutes = 10, processes = Math.ceil(carts / 25)): Promise<void> {
  console.log('A whole hospital on one PostgreSQL with a streaming standby (real servers on loopback)');
  console.log('  ' + formatHospital(await measureHospital(carts, perCart, taps, minutes * 60_000, 60_000, processes)));
}

async function prep(): Promise<void> {
  console.log('Device Prep over USB against the Hands-free Prep (Return to Service), simulated cart');
  console.log('  ' + formatPrep(await measurePrep(8, 3)));
}

async function mdmThroughput(): Promise<void> {
  console.log('MDM throughput (simulated MDMs on loopback)');
  console.log('  ' + formatMdmThroughput(await measureMdmThroughput(500, 3)));
  console.log('  ' + formatWs1Throughput(await measureWs1Throughput(500, 3)));
  console.log('  ' + formatIntuneThroughput(await measureIntuneThroughput(500, 3)));
  for (const vendor of ['workspace-one', 'intune'] as const) console.log('  ' + formatVendorTaps(await measureVendorTaps(vendor, 100)));
}

async function cartFront(): Promise<void> {
  console.log('The cart a nurse walks up to: reader, sign-in, screen');
  console.log('  ' + formatReaderToScreen(await measureReaderToScreen(200)));
  console.log('  ' + formatSignIn(await measureSignIn(300)));
  console.log('  ' + formatScreenMemory(await measureScreenMemory(5000)));
}

async function auditExport(): Promise<void> {
  console.log('A year\u2019s audit export (a real PostgreSQL on loopback)');
  console.log('  ' + formatAuditExport(await measureAuditExport(100_000, 10_000, 3)));
}

async function insights(): Promise<void> {
  console.log('The insights\u2019 figures from a year of audit trail (a real PostgreSQL on loopback; the file store)');
  console.log('  ' + formatInsights(await measureInsights(5000, 5, 2000)));
}

async function fleetView(): Promise<void> {
  console.log('The fleet view in the editor (headless Chromium)');
  console.log('  ' + formatFleetView(await measureFleetView(5000, 5, 20)));
}

async function sharedFleet(): Promise<void> {
  console.log('Many carts, one PostgreSQL fleet (a real server on loopback)');
  console.log('  ' + formatStoreTap(await measureStoreTap(100)));
  console.log('  ' + formatWardCheckouts(await measureWardCheckouts(20, 4, 200, 60_000)));
  console.log('  ' + formatWardShiftChange(await measureWardShiftChange(10, 200)));
}

async function checkout(): Promise<void> {
  console.log('Check Out and Return (simulated cart)');
  console.log('  ' + formatWallpaper(await measureWallpaper(30)));
  console.log('  ' + formatBadgeToReady(await measureBadgeToReady(500)));
  console.log('  ' + formatShiftChange(await measureShiftChange(200)));
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
