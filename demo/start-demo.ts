import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_BADGES, DEMO_PASSWORD, startDemo } from './demo';

// `npm start`: the editor on loopback with the example workflows on a simulated cart. Its user
// directory is kept in one place (the flows survive a restart); `npm start -- --fresh` starts over.
const port = Number(process.env.PORT ?? 1880);
const userDir = process.env.DEMO_USERDIR || join(__dirname, '..', '..', '.demo-userdir');
if (process.argv.includes('--fresh')) rmSync(userDir, { recursive: true, force: true });
// One cart of a ward (`npm run start:ward` starts two): its fleet on PostgreSQL.
const shared = process.env.DEMO_CART && process.env.DATABASE_URL ? { cart: process.env.DEMO_CART, databaseUrl: process.env.DATABASE_URL } : undefined;
startDemo({ port, userDir, shared }).then(
  (demo) => {
    const [badge, holder] = [...DEMO_BADGES][0];
    console.log(
      `\nDevice checkout demo${shared ? `, cart ${shared.cart} of a fleet on PostgreSQL` : ''}: open ${demo.url} (the editor) and ${demo.url}sim (the cart)`,
    );
    console.log('Ten phones are being docked; as new phones they run Device Prep and end Checked In (watch the tabs and the debug sidebar).');
    console.log(
      `Then tap a badge on the cart page (${holder.name} is ${badge}): a phone flashes white and shows her name; unplug it within 60 s, dock it again to return it.`,
    );
    console.log(
      demo.directory
        ? `The cart's screen (${demo.url}device-checkout/cart/dc-fleet, framed on the cart page) also takes sign-ins: ${holder.user} with the password ${DEMO_PASSWORD}, checked by a real OpenLDAP (slapd).`
        : `The cart's screen is at ${demo.url}device-checkout/cart/dc-fleet; its sign-in needs a directory, and the demo starts OpenLDAP's slapd where it is installed (apt-get install slapd).`,
    );
    console.log(`The same from a shell: curl -X POST -H 'content-type: application/json' -d '{"badge":"${badge}"}' ${demo.url}device-checkout/tap`);
    console.log(`(this demo keeps its flows in ${demo.userDir}: your changes survive a restart; npm start -- --fresh starts over. Ctrl-C stops)\n`);
    const stop = (): void => void demo.stop().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
  (err: Error) => {
    console.error(`The demo could not start: ${err.message}`);
    process.exit(1);
  },
);
