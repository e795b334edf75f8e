import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { toPlist } from '../../nodes/lib/mdm/commands';
import { SimulatedNanoMdm } from '../../sim/nanomdm-server';
import { SimulatedDevice } from '../../sim/simulated-device';
import { waitForWebhook } from '../../demo/node-red-runtime';
import { startNodeRedChild, type NodeRedChild } from '../../harness/node-red-child';
import { waitFor } from '../../harness/support';

const SECRETS = { apiKey: 'proc-api-key-93e1', webhookSecret: 'proc-hmac-key-2ad4' };

/** Node-RED as an admin runs it: its own process, its own HTTP, flows deployed over the admin API. */
describe('NanoMDM webhooks into a real Node-RED process', function () {
  let nodeRed: NodeRedChild;
  let url: string;
  let userDir: string;
  let sim: SimulatedNanoMdm;
  let collector: Server;
  const hits: string[] = [];
  let phone: SimulatedDevice;

  before(async () => {
    sim = new SimulatedNanoMdm({ apiKey: SECRETS.apiKey, webhookSecret: SECRETS.webhookSecret });
    await sim.start();
    collector = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.end('ok');
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;

    nodeRed = await startNodeRedChild();
    ({ url, userDir } = nodeRed);
    sim.webhookUrl = `${url}device-checkout/webhook`;

    phone = new SimulatedDevice();
    const flows = [
      { id: 't1', type: 'tab', label: 'Prep' },
      {
        id: 'mdm',
        type: 'mdm-server',
        vendor: 'nanomdm',
        url: sim.url,
        maxConcurrent: '5',
        timeout: '5000',
        webhookPath: 'device-checkout/webhook',
        credentials: SECRETS,
      },
      { id: 'fleet', type: 'device-fleet', mdm: 'mdm' },
      {
        id: 'go',
        type: 'inject',
        z: 't1',
        props: [{ p: 'device', v: JSON.stringify({ udid: phone.udid }), vt: 'json' }],
        repeat: '',
        once: false,
        wires: [['erase']],
      },
      {
        id: 'erase',
        type: 'erase-device',
        z: 't1',
        fleet: 'fleet',
        timeout: '10',
        preserveDataPlan: false,
        disallowProximitySetup: false,
        wires: [['report-ok']],
      },
      { id: 'report-ok', type: 'http request', z: 't1', method: 'POST', ret: 'txt', paytoqs: 'ignore', url: `${collectorUrl}/ok`, wires: [[]] },
      { id: 'catch-prep', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['report-error']] },
      { id: 'report-error', type: 'http request', z: 't1', method: 'POST', ret: 'txt', paytoqs: 'ignore', url: `${collectorUrl}/error`, wires: [[]] },
      { id: 't2', type: 'tab', label: 'Tools' },
      { id: 'clear', type: 'inject', z: 't2', props: [], repeat: '', once: false, wires: [['clear-it']] },
      { id: 'clear-it', type: 'clear-passcode', z: 't2', fleet: 'fleet', timeout: '2', wires: [['report-cleared']] },
      { id: 'report-cleared', type: 'http request', z: 't2', method: 'POST', ret: 'txt', paytoqs: 'ignore', url: `${collectorUrl}/cleared`, wires: [[]] },
      { id: 'catch-tools', type: 'catch', z: 't2', scope: null, uncaught: false, wires: [['report-tools-error']] },
      {
        id: 'report-tools-error',
        type: 'http request',
        z: 't2',
        method: 'POST',
        ret: 'txt',
        paytoqs: 'ignore',
        url: `${collectorUrl}/error/{{error.code}}`,
        wires: [[]],
      },
    ];
    await nodeRed.deploy(flows);
    await waitForWebhook(`${url}device-checkout/webhook`, SECRETS.webhookSecret, 10000);
  });

  after(async () => {
    await sim.stop();
    collector.closeAllConnections();
    await new Promise((resolve) => collector.close(resolve));
    await nodeRed.stop();
  });

  const postWebhook = (body: string, signature?: string) =>
    fetch(`${url}device-checkout/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(signature && { 'x-hmac-signature': signature }) },
      body,
    });

  it('erases a phone end to end: enqueue over HTTP, acknowledgement back through the webhook', async () => {
    await sim.enrol(phone);
    assert.deepEqual(sim.webhookFailures, [], 'Node-RED accepted the signed enrolment webhooks');
    assert.equal((await fetch(`${url}inject/go`, { method: 'POST' })).status, 200);
    await waitFor('the flow reported success', () => hits.includes('/ok'), 10000);
    assert.ok(!hits.includes('/error'));
    await waitFor('wiped', () => phone.erasures === 1);
    assert.deepEqual(sim.invalidCommands, []);
  });

  it('refuses webhooks with a bad or missing signature, and takes good ones', async () => {
    const body = JSON.stringify({ topic: 'mdm.Connect', acknowledge_event: { udid: phone.udid, status: 'Idle' } });
    assert.equal((await postWebhook(body)).status, 401);
    assert.equal((await postWebhook(body, createHmac('sha256', 'not-the-key').update(body).digest('base64'))).status, 401);
    assert.equal((await postWebhook(body, createHmac('sha256', SECRETS.webhookSecret).update(body).digest('base64'))).status, 200);
    // The signature is over the exact bytes: the same JSON re-spaced no longer matches.
    assert.equal((await postWebhook(body.replace(':', ': '), createHmac('sha256', SECRETS.webhookSecret).update(body).digest('base64'))).status, 401);
  });

  const signed = (body: string) => postWebhook(body, createHmac('sha256', SECRETS.webhookSecret).update(body).digest('base64'));

  it('answers hostile bodies, signed or not, with 400 and stays up; says why a webhook was refused, without its body', async () => {
    const hostile = [
      'null',
      '[]',
      '"x"',
      '42',
      '{"topic":"mdm.Connect","acknowledge_event":null}',
      '{"topic":"mdm.Authenticate","checkin_event":{"udid":5}}',
      '{"topic":7}',
      '{',
    ];
    for (const body of hostile) assert.equal((await signed(body)).status, 400, body);
    const unsignedMarker = '{"topic":"mdm.Connect","acknowledge_event":{"udid":"unsigned-marker","status":"Idle"}}';
    assert.equal((await postWebhook(unsignedMarker)).status, 401);
    const idle = JSON.stringify({ topic: 'mdm.Connect', acknowledge_event: { udid: phone.udid, status: 'Idle' } });
    assert.equal((await signed(idle)).status, 200, 'Node-RED is still there');
    await waitFor('a warning naming the likely cause', () => /not signed \(NanoMDM started without -webhook-hmac-key\?\)/.test(nodeRed.output()));
    assert.ok(!nodeRed.output().includes('unsigned-marker'), 'no body in the log');
  });

  it('ignores a replayed, older Authenticate: the unlock token learnt later stays', async () => {
    const replay = new SimulatedDevice();
    const checkIn = (topic: string, message: object, createdAt: string) =>
      signed(
        JSON.stringify({
          topic,
          event_id: `${topic}-${createdAt}`,
          created_at: createdAt,
          checkin_event: { udid: replay.udid, raw_payload: Buffer.from(toPlist(message)).toString('base64') },
        }),
      );
    const authenticate = replay.authenticateMessage();
    assert.equal((await checkIn('mdm.Authenticate', authenticate, '2026-12-01T08:00:00.123456789Z')).status, 200);
    assert.equal((await checkIn('mdm.TokenUpdate', replay.tokenUpdateMessage(), '2026-12-01T08:00:01.5Z')).status, 200);
    assert.equal((await checkIn('mdm.Authenticate', authenticate, '2026-12-01T08:00:00.123456789Z')).status, 200, 'taken, and ignored');
    // A Clear Passcode for it still finds the token: the flow fails with the device's answer, not NO_UNLOCK_TOKEN.
    const before = hits.length;
    assert.equal(
      (
        await fetch(`${url}inject/clear`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ __user_inject_props__: [{ p: 'device', v: JSON.stringify({ udid: replay.udid }), vt: 'json' }] }),
        })
      ).status,
      200,
    );
    await waitFor('clear-passcode reported', () => hits.length > before, 10000);
    assert.ok(!hits.slice(before).includes('/error/NO_UNLOCK_TOKEN'), hits.slice(before).join());
  });

  it('keeps secrets out of the flow export, the stored flows and the log', async () => {
    const exported = await (await fetch(`${url}flows`, { headers: { accept: 'application/json' } })).text();
    const stored = readFileSync(join(userDir, 'flows.json'), 'utf8') + readFileSync(join(userDir, 'flows_cred.json'), 'utf8');
    assert.match(exported, /mdm-server/);
    for (const secret of Object.values(SECRETS)) {
      assert.ok(!exported.includes(secret), 'flow export');
      assert.ok(!stored.includes(secret), 'files in the user directory');
      assert.ok(!nodeRed.output().includes(secret), 'Node-RED log');
    }
  });
});
