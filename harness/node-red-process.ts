import { startNodeRed } from '../demo/node-red-runtime';

// A real Node-RED process for black-box tests: prints {url, userDir} as one JSON line.
// Arguments (for a restart): the user directory to use again, and the port. NODE_RED_SETTINGS:
// a settings file to start with (adminAuth, say).
const [userDir, port] = process.argv.slice(2);
const settingsFile = process.env.NODE_RED_SETTINGS || undefined;
startNodeRed({ port: Number(port ?? 0), flows: userDir ? undefined : [], userDir, logLevel: 'info', settingsFile }).then(
  (runtime) => {
    console.log(JSON.stringify({ url: runtime.url, userDir: runtime.userDir }));
    process.once('SIGTERM', () => void runtime.stop().then(() => process.exit(0)));
  },
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
