import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { attachToHub } from '../shared/hub-attachment';
import { failMessage, showStatus } from '../shared/status';

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
      const fail = (err: CodedError) => failMessage(this, err, RED._('hub-led.status.failed', { port, code: err.code ?? 'ERROR' }), done);
      if (typeof led !== 'string' || !led) return fail(new CodedError('INVALID_LED', RED._('hub-led.errors.no-led')));
      connection.setLed(port, led).then(() => {
        showStatus(this, 'ok', RED._('hub-led.status.set', { port, led }));
        send(msg);
        done();
      }, fail);
    });
  }

  RED.nodes.registerType('hub-led', HubLed);
}
