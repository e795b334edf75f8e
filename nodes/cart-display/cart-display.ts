import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { MAX_SCREEN_MESSAGE } from '../lib/cart-screen/cart-screen';
import { fleetOf } from '../shared/config-nodes';
import { numberField } from '../shared/defaults';
import { failMessage, showStatus } from '../shared/status';

export interface CartDisplayDef extends NodeDef {
  fleet: string;
  /** How long the message stays, s. */
  seconds?: string;
}

/**
 * An admin's own message on the fleet's cart screen, from any flow: `msg.payload` (text) over
 * whatever the screen shows, for `seconds` (or `msg.seconds`); then the screen goes on as before.
 */
export default function (RED: NodeAPI): void {
  function CartDisplay(this: Node, config: CartDisplayDef): void {
    RED.nodes.createNode(this, config);
    this.on('input', (msg: NodeMessage & { seconds?: unknown }, send, done) => {
      const fail = (err: CodedError) => failMessage(this, err, RED._('cart-display.status.failed', { code: err.code ?? 'ERROR' }), done);
      try {
        const { fleet, unavailable } = fleetOf(RED, config.fleet);
        if (!fleet) return fail(unavailable ?? new CodedError('NO_FLEET', RED._('cart-display.errors.no-fleet')));
        if (!fleet.screen) return fail(new CodedError('INVALID_CONFIG', RED._('cart-display.errors.no-screen')));
        const text = typeof msg.payload === 'string' || typeof msg.payload === 'number' ? String(msg.payload).trim() : '';
        if (!text || text.length > MAX_SCREEN_MESSAGE) {
          return fail(new CodedError('INVALID_REQUEST', RED._('cart-display.errors.text', { max: MAX_SCREEN_MESSAGE })));
        }
        const seconds =
          msg.seconds === undefined ? numberField('cart-display', config, 'seconds') : numberField('cart-display', { seconds: msg.seconds }, 'seconds');
        fleet.screen.showMessage(text, seconds);
        showStatus(this, 'ok', RED._('cart-display.status.shown', { seconds }));
        send(msg);
        done();
      } catch (err) {
        fail(err as CodedError);
      }
    });
  }

  RED.nodes.registerType('cart-display', CartDisplay);
}
