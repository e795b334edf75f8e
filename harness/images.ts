import { createCanvas, loadImage } from '@napi-rs/canvas';

/** The hostile names of the issue: markup, quotes, 500 characters, emoji, right-to-left. */
export const HOSTILE_NAMES = [
  '<script>alert("x")</script> & <b>Bob</b>',
  `O'Brien "The Nurse" \\ \`rm -rf\``,
  'Maximilian'.repeat(26).slice(0, 256), // the longest id a person may have
  'Zoë 👩🏽‍⚕️🩺 Ångström',
  'מרים כהן',
  'أحمد العلي',
  'Dr. \u202Eevil\u202C 王小明',
];

/** Decodes a PNG and says where its non-background pixels are. */
export async function ink(
  png: Buffer,
  background = [0, 0, 0],
): Promise<{ width: number; height: number; box?: { left: number; top: number; right: number; bottom: number }; pixels: number }> {
  const image = await loadImage(png);
  const { width, height } = image; // native getters: read once, not per pixel
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(image, 0, 0);
  const { data } = ctx.getImageData(0, 0, width, height);
  let pixels = 0;
  const box = { left: Infinity, top: Infinity, right: -1, bottom: -1 };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      if (Math.abs(data[i] - background[0]) + Math.abs(data[i + 1] - background[1]) + Math.abs(data[i + 2] - background[2]) < 60) continue;
      pixels++;
      box.left = Math.min(box.left, x);
      box.right = Math.max(box.right, x);
      box.top = Math.min(box.top, y);
      box.bottom = Math.max(box.bottom, y);
    }
  }
  return { width, height, pixels, ...(pixels > 0 && { box }) };
}
