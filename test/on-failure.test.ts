import assert from 'node:assert/strict';
import type { NodeAPI, NodeMessage } from 'node-red';
import { decide } from '../nodes/lib/workflow/failure-policy';
import { collect, helper, packageNodes, reports, send } from '../harness/node-red';
import { tempDir, waitFor } from '../harness/support';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED's core nodes are CommonJS files without types
const catchNode = require('@node-red/nodes/core/common/25-catch.js') as (RED: NodeAPI) => void;

type Failed = NodeMessage & { error: { code: string; source: { id: string } }; device: { udid: string } };

describe('on-failure: retry a workflow, then run another', () => {
  it('decides: retries until the maximum of attempts (the first included), capped at 10, then the other workflow', () => {
    const policy = { retry: true, maxAttempts: 3, runOther: true };
    assert.deepEqual(
      [1, 2, 3].map((attempt) => decide(policy, attempt).action),
      ['retry', 'retry', 'run-other'],
    );
    assert.deepEqual(decide({ ...policy, maxAttempts: 10 }, 10), { action: 'run-other' });
    assert.deepEqual(decide({ ...policy, maxAttempts: 10 }, 9), { action: 'retry', attempt: 10, of: 10 });
    assert.deepEqual(decide({ retry: false, maxAttempts: 10, runOther: false }, 1), { action: 'give-up' });
  });

  describe('in Node-RED', () => {
    let attempts: unknown[];
    let other: NodeMessage[];

    /** A workflow whose step always fails (a placeholder without a value), with a Catch wired in too. */
    async function start(onFailure: object, group = false): Promise<void> {
      helper.settings({ userDir: tempDir('userdir') });
      const g = group ? { g: 'workflow' } : {};
      await helper.load([...packageNodes, catchNode], [
        { id: 'tab', type: 'tab', label: 'Prep' },
        ...(group ? [{ id: 'workflow', type: 'group', z: 'tab', nodes: ['name', 'retry'] }] : []),
        { id: 'fleet', type: 'device-fleet', mdm: '' },
        { id: 'name', type: 'set-device-name', z: 'tab', ...g, fleet: 'fleet', deviceName: 'Cart [Missing]', wires: [[]] },
        { id: 'retry', type: 'on-failure', z: 'tab', ...g, ...onFailure, wires: [['name'], ['other']] },
        { id: 'catch-all', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['retry']] },
        { id: 'other', type: 'helper', z: 'tab' },
        // The tab's own on-failure: only for failures outside a group that has one.
        ...(group
          ? [
              { id: 'tab-failure', type: 'on-failure', z: 'tab', retry: false, maxAttempts: '1', runOther: true, wires: [[], ['tab-other']] },
              { id: 'tab-other', type: 'helper', z: 'tab' },
            ]
          : []),
      ] as Parameters<typeof helper.load>[1]);
      attempts = reports('name', 'error');
      other = collect('other');
    }

    afterEach(async () => {
      await helper.unload();
      helper.settings({});
    });

    it('retries the triggering message as often as the field allows at most (10 attempts), counting a failure also caught once', async () => {
      await start({ retry: true, maxAttempts: '10', runOther: true });
      send('name', { device: { udid: 'PHONE-1' }, topic: 'prep' });
      const [failed] = (await waitFor('run another workflow', () => other.length === 1 && other)) as Failed[];
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(attempts.length, 10, 'ten attempts in all');
      assert.equal(other.length, 1);
      assert.deepEqual([failed.error.code, failed.error.source.id, failed.device.udid, failed.topic], ['MISSING_ATTRIBUTE', 'name', 'PHONE-1', 'prep']);
    });

    it('counts attempts per run: two devices failing at once each get their own attempts', async () => {
      await start({ retry: true, maxAttempts: '3', runOther: true });
      send('name', { device: { udid: 'PHONE-1' } });
      send('name', { device: { udid: 'PHONE-2' } });
      await waitFor('both gave up', () => other.length === 2);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(attempts.length, 6);
      assert.deepEqual(other.map((m) => (m as Failed).device.udid).sort(), ['PHONE-1', 'PHONE-2']);
    });

    it('the Check Out example\u2019s setting: no retry, straight to the other workflow; in a group, the group\u2019s on-failure', async () => {
      await start({ retry: false, maxAttempts: '1', runOther: true }, true);
      const tabOther = collect('tab-other');
      send('name', { device: { udid: 'PHONE-3' } });
      await waitFor('run another workflow', () => other.length === 1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(attempts.length, 1);
      assert.equal(tabOther.length, 0, 'the group’s on-failure took it, not the tab’s');
    });

    it('neither retry nor another workflow: gives up and says so', async () => {
      await start({ retry: false, maxAttempts: '1', runOther: false });
      const shown = helper.getNode('retry') as unknown as import('node:events').EventEmitter;
      const texts: string[] = [];
      shown.on('call:status', (call: { args: [{ text: string }] }) => texts.push(call.args[0].text));
      send('name', { device: { udid: 'PHONE-4' } });
      await waitFor('gave up', () => texts.length > 0);
      assert.match(texts[0], /^on-failure\.status\.gave-up .*MISSING_ATTRIBUTE/);
      assert.equal(other.length, 0);
    });
  });
});
