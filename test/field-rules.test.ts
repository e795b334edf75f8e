import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodedError } from '../nodes/lib/coded-error';
import { PACKAGE_ROOT as ROOT } from '../nodes/lib/package-root';
import { fieldRules } from '../nodes/shared/defaults';
import { freshUserDir, helper, load, reports, send, statuses } from '../harness/node-red';
import { waitFor } from '../harness/support';

/** What the log said about node `id` (Node-RED logs a node that could not be created under its id). */
const logged = (id: string): string[] =>
  (helper.log() as unknown as { args: [{ id?: string; msg?: unknown }][] }).args
    .map(([entry]) => entry)
    .filter((entry) => entry.id === id)
    .map((entry) => String(entry.msg));

describe('a field’s rules in one place (resources/device-checkout.js)', () => {
  const numeric = Object.entries(fieldRules.fields).flatMap(([type, fields]) =>
    Object.entries(fields)
      .filter(([, rule]) => rule.min !== undefined)
      .map(([field, rule]) => ({ type, field, rule })),
  );

  it('every number field has a range, and its default lies in it', () => {
    assert.ok(numeric.length >= 20);
    for (const { type, field, rule } of numeric) {
      assert.ok(rule.max !== undefined && rule.min! < rule.max, `${type}.${field}`);
      if (rule.default !== undefined) assert.equal(fieldRules.problem(type, field, rule.default), undefined, `${type}.${field} default`);
    }
  });

  it('the editor of every node with a number field takes its default and validator from the table', () => {
    for (const { type, field } of numeric) {
      const html = readFileSync(join(ROOT, 'nodes', type, `${type}.html`), 'utf8');
      const viaKit = field === 'timeout' && html.includes(`DeviceCheckout.action('${type}'`);
      assert.ok(viaKit || html.includes(`DeviceCheckout.field('${type}', '${field}'`), `${type}.${field}`);
    }
  });

  it('says what is wrong: empty takes the default; text, fractions of a whole number and values out of range are refused', () => {
    assert.equal(fieldRules.problem('device-fleet', 'checkoutDeadline', ''), undefined);
    assert.equal(fieldRules.problem('device-fleet', 'checkoutDeadline', 5), undefined);
    assert.equal(fieldRules.problem('device-fleet', 'checkoutDeadline', '3600'), undefined);
    assert.equal(fieldRules.problem('device-fleet', 'checkoutDeadline', '4.9'), 'out-of-range');
    assert.equal(fieldRules.problem('device-fleet', 'checkoutDeadline', '99999'), 'out-of-range');
    assert.equal(fieldRules.problem('device-fleet', 'checkoutDeadline', ' '), 'not-a-number');
    assert.equal(fieldRules.problem('device-fleet', 'userLimit', '1.5'), 'not-whole');
    assert.equal(fieldRules.problem('mdm-server', 'maxConcurrent', 'lots'), 'not-a-number');
  });

  describe('a flow file edited by hand, deployed', () => {
    beforeEach(() => freshUserDir());
    afterEach(() => helper.unload());

    it('a fleet with a deadline out of range does not start, and the log names the field and its range', async () => {
      await load([
        { id: 'fleet', type: 'device-fleet', mdm: '', lockerApp: 'org.example.locker', checkoutDeadline: '99999' },
        { id: 'checkout', type: 'check-out-device', fleet: 'fleet', wires: [[]] },
      ]);
      assert.equal((helper.getNode('fleet') as unknown as { unavailable?: CodedError }).unavailable?.code, 'INVALID_CONFIG');
      assert.ok(
        logged('fleet').some((line) => /field-out-of-range .*checkoutDeadline.*99999.*\b5\b.*\b3600\b/.test(line)),
        logged('fleet').join('\n'),
      );
      const errors = reports('checkout', 'error');
      send('checkout', { user: 'ann' });
      await waitFor('refused', () => errors.length === 1);
      assert.equal((errors[0] as CodedError).code, 'INVALID_CONFIG');
    });

    it('an action with a wait that is not a number refuses every message with INVALID_CONFIG and says so', async () => {
      await load([
        { id: 'fleet', type: 'device-fleet', mdm: '', lockerApp: 'org.example.locker' },
        { id: 'erase', type: 'erase-device', fleet: 'fleet', timeout: 'two minutes', wires: [[]] },
      ]);
      const shown = statuses('erase');
      const errors = reports('erase', 'error');
      send('erase', { device: { udid: 'A' } });
      await waitFor('refused', () => errors.some((e) => (e as CodedError).code === 'INVALID_CONFIG'));
      assert.ok(
        logged('erase').some((line) => /field-not-a-number \{"field":"timeout","value":"two minutes"/.test(line)),
        logged('erase').join('\n'),
      );
      assert.ok(shown.some((s) => s.fill === 'red' && /INVALID_CONFIG/.test(String(s.text))));
    });

    it('a smart hub with a baud rate that is not a whole number, and a retry count out of range: neither starts, each named', async () => {
      await load([
        { id: 'hub', type: 'smart-hub', serialPort: '/dev/ttyNONE', baudRate: '9600.5', pollInterval: '1000', model: 'auto' },
        { id: 'retry', type: 'on-failure', maxAttempts: '50', wires: [[], []] },
      ]);
      assert.ok(
        logged('hub').some((line) => /field-not-whole .*baudRate.*9600\.5.*\b300\b.*\b4000000\b/.test(line)),
        logged('hub').join('\n'),
      );
      assert.ok(
        logged('retry').some((line) => /field-out-of-range .*maxAttempts.*\b50\b.*\b1\b.*\b10\b/.test(line)),
        logged('retry').join('\n'),
      );
    });
  });
});
