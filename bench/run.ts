import { formatLatency, measureLatency } from './latency';
import { formatPollingCost, measurePollingCost } from './polling-cost';

// `npm run bench`: medians and ratios against baselines measured in this same run.
async function main(): Promise<void> {
  console.log('Dock-to-event latency over a pty (real serialport binding, hub replies paced at 115200 baud)');
  for (const [interval, samples] of [[250, 120], [1000, 60]]) {
    console.log('  ' + formatLatency(await measureLatency(interval, samples)));
  }
  console.log('Polling cost');
  console.log('  ' + formatPollingCost(await measurePollingCost(16, 3, 15)));
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
