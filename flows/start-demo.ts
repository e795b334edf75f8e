import { startDemo } from './demo';

// `npm start`: the editor on loopback, a simulated cart moving by itself.
const port = Number(process.env.PORT ?? 1880);
const autopilotEvery = Number(process.env.DEMO_AUTOPILOT_MS ?? 4000);
startDemo({ port, autopilotEvery }).then(
  (demo) => {
    console.log(`\nDevice checkout demo: open ${demo.url}`);
    console.log('Open the debug sidebar: a simulated phone is docked or unplugged on hub "Cart 1" every few seconds.');
    console.log(`Move one yourself: curl -X POST ${demo.url}sim/cart1/3/dock (or /unplug)`);
    console.log(`(user directory for this run: ${demo.userDir}; Ctrl-C stops)\n`);
    const stop = (): void => void demo.stop().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
  (err: Error) => {
    console.error(`The demo could not start: ${err.message}`);
    process.exit(1);
  },
);
