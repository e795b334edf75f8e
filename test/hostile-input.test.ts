import assert from 'node:assert/strict';
import { renderTemplate } from '../nodes/lib/attributes';
import type { CodedError } from '../nodes/lib/coded-error';
import { forgetBadge, forgetPassword } from '../nodes/lib/fleet/badge-lookup';
import { checkUserId, userKey } from '../nodes/lib/fleet/person';
import { WorkflowRuns } from '../nodes/lib/workflow/workflow-run';
import { imagePath } from '../nodes/lib/wallpaper/image-path';

const code = (expected: string) => (err: CodedError) => err.code === expected;

describe('hostile and odd input', () => {
  it('user ids: one key per person (NFKC, case, invisible characters), controls and oversize refused', () => {
    for (const id of ['USER1', 'user1\u200B', '\u202Euser1', '\uFF55\uFF53\uFF45\uFF52\uFF11', 'User\u00AD1'])
      assert.equal(userKey(checkUserId(id)), 'user1', JSON.stringify(id));
    assert.equal(checkUserId('  Zoë  '), 'Zoë', 'stored as given, trimmed');
    assert.notEqual(userKey('zoe'), userKey('zoë'), 'a different letter is a different person');
    for (const id of ['a\u0000b', 'a\u001Bb', 'x'.repeat(257), '\u200B', '', 42])
      assert.throws(() => checkUserId(id), code('INVALID_USER'), JSON.stringify(id));
    assert.equal(checkUserId('x'.repeat(256)).length, 256);
  });

  it('placeholders read only the device\u2019s own values: [constructor] is no attribute', () => {
    const device = { udid: 'U1', user: 'ann', attributes: { Ward: '3' } };
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.throws(() => renderTemplate(`[${name}]`, device), code('MISSING_ATTRIBUTE'), name);
    }
    assert.equal(renderTemplate('[Device User] on [Ward]', device), 'ann on 3');
    assert.equal(renderTemplate('Checked Out to [Device User Name]', { ...device, userName: 'Ann Example' }), 'Checked Out to Ann Example');
    assert.equal(renderTemplate('Checked Out to [Device User Name]', device), 'Checked Out to ann', 'the id when the badge service gave no name');
    assert.throws(() => renderTemplate('[Ward]', { attributes: { Ward: 'w'.repeat(257) } }), code('INVALID_ATTRIBUTE'));
  });

  it('a wallpaper path with placeholders stays inside the folder named before the first one', () => {
    const device = (Ward: string) => ({ udid: 'U1', attributes: { Ward } });
    assert.equal(imagePath('/wallpapers/[Ward].png', device('3')), '/wallpapers/3.png');
    assert.equal(imagePath('/wallpapers/ward-[Ward].png', device('3')), '/wallpapers/ward-3.png');
    for (const hostile of ['../secret/x', '../../etc/passwd', '/../../x']) {
      assert.throws(() => imagePath('/wallpapers/[Ward].png', device(hostile)), code('INVALID_WALLPAPER'), hostile);
    }
    assert.equal(imagePath('/fixed/image.png', device('..')), '/fixed/image.png', 'no placeholder, nothing to contain');
  });

  it('keeps retry copies bounded by bytes as well as count; an oversized message is not copied', () => {
    const runs = new WorkflowRuns((msg) => structuredClone(msg), { count: 1000, bytes: 10 * 1024 * 1024, messageBytes: 1024 * 1024 });
    const big = () => ({ payload: Buffer.alloc(4 * 1024 * 1024) });
    for (let i = 0; i < 100; i++) runs.enter('flow', big());
    assert.equal(runs.keptBytes, 0, 'a 4 MiB message is left as it is: its retry re-sends the failed message');
    for (let i = 0; i < 40; i++) runs.enter('flow', { payload: 'x'.repeat(256 * 1024) });
    assert.ok(runs.keptBytes <= 10 * 1024 * 1024, `${runs.keptBytes} bytes kept`);
    const msg = { payload: 'small' };
    const run = runs.enter('flow', msg);
    assert.equal((runs.retry(run, 2, {}) as { payload: string }).payload, 'small', 'the newest run is kept');
  });

  it('forgets a badge id wherever in the message it came, and nothing else', () => {
    const msg: Record<string, unknown> = {
      badge: 4711,
      payload: { badge: '4711', list: ['a', '4711'], ward: '4711x' },
      topic: '4711',
      req: { body: { id: '4711' }, socket: { id: '4711' } },
    };
    forgetBadge(msg, 4711);
    assert.deepEqual(msg, { payload: { list: ['a'], ward: '4711x' }, req: { body: {}, socket: { id: '4711' } } });
  });

  it('forgets a sign-in’s password where a form or a flow puts it, and leaves text that only equals it', () => {
    const msg: Record<string, unknown> = {
      user: 'alice',
      password: 'alice',
      payload: { password: 'alice', note: 'alice' },
      req: { body: { user: 'alice', password: 'alice' }, query: { password: 'alice' } },
    };
    forgetPassword(msg);
    assert.deepEqual(msg, { user: 'alice', payload: { note: 'alice' }, req: { body: { user: 'alice' }, query: {} } });
  });
});
