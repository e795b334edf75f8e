import { startNodeRed } from '../../flows/node-red-runtime';

// A real Node-RED process for black-box tests: prints {url, userDir} as one JSON line.
// Arguments (for a restart): the user directory to use again, and the port.
const [userDir, port] = process.argv.slice(2);
startNodeRed({ port: Number(port ?? 0), flows: userDir ? undefined : [], userDir, logLevel: 'info' }).then(
  (runtime) => {
    console.log(JSON.stringify({ url: runtime.url, userDir: runtime.userDir }));
    process.once('SIGTERM', () => void runtime.stop().then(() => process.exit(0)));
  },
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
