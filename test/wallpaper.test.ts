import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCanvas } from '@napi-rs/canvas';
import { WallpaperRenderer, type WallpaperSpec } from '../nodes/lib/wallpaper/wallpaper-renderer';
import { defaultOf } from '../nodes/shared/defaults';
import type { CodedError } from '../nodes/lib/coded-error';
import { tempDir } from '../harness/support';
import { HOSTILE_NAMES, ink } from '../harness/images';

/** The screen set-wallpaper renders for unless told otherwise (iPhone 15/16 Pro, portrait). */
const DEFAULT_SCREEN = { width: Number(defaultOf('set-wallpaper', 'width')), height: Number(defaultOf('set-wallpaper', 'height')) };

describe('wallpapers: rendered PNGs with attribute text', function () {
  this.timeout(60_000);
  const renderer = new WallpaperRenderer();
  const spec = (text: string, extra: Partial<WallpaperSpec> = {}): WallpaperSpec => ({ ...DEFAULT_SCREEN, background: { colour: '#000000' }, text, ...extra });

  it('a black PNG at the phone\u2019s screen size, the text centred below the clock', async () => {
    const png = await renderer.render(spec('Checked Out to alice'));
    assert.deepEqual([...png.subarray(1, 4)].map((b) => String.fromCharCode(b)).join(''), 'PNG');
    const { width, height, box } = await ink(png);
    assert.deepEqual([width, height], [1179, 2556]);
    assert.ok(box, 'the text is drawn');
    assert.ok(box.top > 2556 * 0.4 && box.bottom < 2556 * 0.88, `below the clock, above the home bar (${box.top}-${box.bottom})`);
    assert.ok(Math.abs((box.left + box.right) / 2 - 1179 / 2) < 40, 'centred');
    const empty = await ink(await renderer.render(spec('')));
    assert.equal(empty.pixels, 0, 'no text: plain black, the Return workflow\u2019s "locked" clue');
  });

  it('every hostile name fits inside the margins, drawn as text, never markup', async () => {
    for (const name of HOSTILE_NAMES) {
      const { box, pixels } = await ink(await renderer.render(spec(`Checked Out to ${name}`)));
      assert.ok(box && pixels > 500, `${name.slice(0, 20)}: drawn`);
      assert.ok(box.left >= 1179 * 0.08 - 2 && box.right <= 1179 * 0.92 + 2, `${name.slice(0, 20)}: inside the side margins (${box.left}-${box.right})`);
      assert.ok(box.top >= 2556 * 0.4 - 2 && box.bottom <= 2556 * 0.88 + 2, `${name.slice(0, 20)}: inside the text band (${box.top}-${box.bottom})`);
    }
    // Markup is drawn literally: the tags cost width, where a renderer that parsed them would not.
    const plain = await ink(await renderer.render(spec('Bob')));
    const tagged = await ink(await renderer.render(spec('<b>Bob</b>')));
    assert.ok(tagged.box!.right - tagged.box!.left > 2 * (plain.box!.right - plain.box!.left), 'the tags are visible characters');
  });

  it('a long name shrinks and wraps; a short one stays large', async () => {
    const short = await ink(await renderer.render(spec('Checked Out to Al')));
    const long = await ink(await renderer.render(spec(`Checked Out to ${'Maximilian'.repeat(50)}`)));
    const shortHeight = short.box!.bottom - short.box!.top;
    assert.ok(shortHeight > 60, `a short text uses a large font (${shortHeight} px of ink)`);
    assert.ok(long.box!.bottom - long.box!.top > shortHeight * 2, 'a 500-character name wraps over several lines');
  });

  it('bidi overrides in a name cannot turn the admin\u2019s words around', async () => {
    const clean = await renderer.render(spec('Checked Out to evil'));
    const overridden = await renderer.render(spec('Checked Out to \u202Eevil\u202C'));
    assert.ok(clean.equals(overridden), 'the override characters are dropped before drawing');
  });

  it('a colour background picks readable text; an image background covers the screen', async () => {
    const white = await ink(await renderer.render(spec('Checked In', { background: { colour: '#ffffff' } })), [255, 255, 255]);
    assert.ok(white.pixels > 500, 'dark text on a light background');
    const dir = tempDir('wallpaper');
    const file = join(dir, 'ward.png');
    const canvas = createCanvas(300, 200);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#2050a0';
    ctx.fillRect(0, 0, 300, 200);
    writeFileSync(file, canvas.toBuffer('image/png'));
    const onImage = await ink(await renderer.render(spec('', { background: { imageFile: file } })), [0x20, 0x50, 0xa0]);
    assert.equal(onImage.pixels, 0, 'the image fills the whole screen');
    await assert.rejects(
      renderer.render(spec('', { background: { imageFile: join(dir, 'missing.png') } })),
      (err: CodedError) => err.code === 'INVALID_WALLPAPER',
    );
    await assert.rejects(renderer.render(spec('', { background: { colour: 'red; url(x)' } })), (err: CodedError) => err.code === 'INVALID_WALLPAPER');
    await assert.rejects(renderer.render(spec('', { width: 50000 })), (err: CodedError) => err.code === 'INVALID_WALLPAPER');
  });

  it('caches renders: the same wallpaper twice is the same buffer, a changed image file is read again', async () => {
    const first = await renderer.render(spec('Checked Out to cache'));
    assert.equal(await renderer.render(spec('Checked Out to cache')), first);
    const dir = tempDir('wallpaper');
    const file = join(dir, 'bg.png');
    const draw = (colour: string) => {
      const canvas = createCanvas(10, 10);
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = colour;
      ctx.fillRect(0, 0, 10, 10);
      writeFileSync(file, canvas.toBuffer('image/png'));
    };
    draw('#ff0000');
    const red = await renderer.render(spec('x', { background: { imageFile: file } }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    draw('#00ff00');
    const green = await renderer.render(spec('x', { background: { imageFile: file } }));
    assert.ok(!red.equals(green), 'the new image is used');
  });
});
