import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { attachToHub } from '../smart-hub/smart-hub';

export interface HubLedDef extends NodeDef {
  hub: string;
  /** Fixed port; empty takes `msg.device.port`. */
  port: string;
  /** Fixed LED state; empty takes `msg.led`. */
  led: string;
}

interface LedMessage extends NodeMessage {
  device?: { port?: unknown };
  led?: unknown;
}

export default function (RED: NodeAPI): void {
  function HubLed(this: Node, config: HubLedDef): void {
    RED.nodes.createNode(this, config);
    const hub = attachToHub(RED, this, config.hub);
    if (!hub) return;
    const { connection } = hub;

    this.on('input', (msg: LedMessage, send, done) => {
      const port = Number(config.port !== undefined && config.port !== '' ? config.port : msg.device?.port);
      const led = config.led || msg.led;
      if (typeof led !== 'string' || !led) {
        return done(new CodedError('INVALID_LED', RED._('hub-led.errors.no-led')));
      }
      connection
        .setLed(port, led)
        .then(() => {
          this.status({ fill: 'green', shape: 'dot', text: RED._('hub-led.status.set', { port, led }) });
          send(msg);
          done();
        })
        .catch((err: Error) => {
          this.status({ fill: 'red', shape: 'dot', text: RED._('hub-led.status.failed', { port, code: (err as CodedError).code ?? 'ERROR' }) });
          done(err);
        });
    });
  }

  RED.nodes.registerType('hub-led', HubLed);
}
