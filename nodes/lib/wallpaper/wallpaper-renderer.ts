import { stat } from 'node:fs/promises';
import { createCanvas, loadImage, type Image, type SKRSContext2D } from '@napi-rs/canvas';
import { catalogText, CodedError } from '../coded-error';
import { wallpaperFontFamilies } from './fonts';
import { encodePng } from './png';

/** What the wallpaper is drawn on: a colour (`#000000` is the Return workflow's black) or an image file. */
export type WallpaperBackground = { colour: string } | { imageFile: string };

export interface WallpaperSpec {
  width: number;
  height: number;
  background: WallpaperBackground;
  /** Drawn literally (never parsed as markup) in white, black on a light colour; `\n` starts a new line. */
  text: string;
}

/** The longest text a wallpaper carries: rendering time grows faster than the text. */
const MAX_WALLPAPER_TEXT = 1000;

// Control characters, and the bidi embeddings, overrides and isolates that could reorder the
// admin's words around a user's name ("Checked Out to" shown backwards, say).
// eslint-disable-next-line no-control-regex -- control characters are what it removes
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const words = new Intl.Segmenter(undefined, { granularity: 'word' });
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Renders lock or home screen wallpapers as PNG: a background with centred text, wrapped and
 * shrunk until it fits below the clock, in fonts shipped with the package. Renders are kept
 * (least recently used out) since a cart draws the same few again and again.
 */
export class WallpaperRenderer {
  private readonly cache = new Map<string, Buffer>();
  private readonly images = new Map<string, { version: string; image: Image }>();

  constructor(private readonly cacheSize = 64) {}

  async render(spec: WallpaperSpec): Promise<Buffer> {
    const { width, height, background } = spec;
    if (![width, height].every((n) => Number.isInteger(n) && n >= 100 && n <= 4096)) {
      throw new CodedError('INVALID_WALLPAPER', catalogText('set-wallpaper.errors.size', { width, height }));
    }
    if (spec.text.length > MAX_WALLPAPER_TEXT) {
      throw new CodedError('INVALID_WALLPAPER', catalogText('set-wallpaper.errors.text-too-long', { max: MAX_WALLPAPER_TEXT, length: spec.text.length }));
    }
    if ('colour' in background && !/^#[0-9a-f]{6}$/i.test(background.colour)) {
      throw new CodedError('INVALID_WALLPAPER', catalogText('set-wallpaper.errors.colour', { colour: background.colour }));
    }
    const image = 'imageFile' in background ? await this.image(background.imageFile) : undefined;
    const key = JSON.stringify([width, height, 'colour' in background ? background.colour : image!.version, spec.text]);
    const cached = this.cache.get(key);
    if (cached) {
      this.cache.delete(key); // most recently used goes last
      this.cache.set(key, cached);
      return cached;
    }
    const png = draw(spec, this.backdrop(spec, image), image?.image);
    this.cache.set(key, png);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return png;
  }

  /** The backdrop of the last image background drawn, kept: an image's pixels are 12 MB a screen. */
  private lastBackdrop?: { key: string; rows: Rows };

  private backdrop(spec: WallpaperSpec, image?: { version: string; image: Image }): Rows {
    if (!image) return backdropOf(spec);
    const key = `${spec.width}x${spec.height}:${image.version}`;
    if (this.lastBackdrop?.key !== key) this.lastBackdrop = { key, rows: backdropOf(spec, image.image) };
    return this.lastBackdrop.rows;
  }

  /** The decoded image, read again only when the file changed. */
  private async image(file: string): Promise<{ version: string; image: Image }> {
    const info = await stat(file).catch((err: Error) => {
      throw new CodedError('INVALID_WALLPAPER', catalogText('set-wallpaper.errors.unreadable', { file, reason: err.message }));
    });
    const version = `${file}:${info.size}:${info.mtimeMs}`;
    const known = this.images.get(file);
    if (known?.version === version) return known;
    const image = await loadImage(file).catch((err: Error) => {
      throw new CodedError('INVALID_WALLPAPER', catalogText('set-wallpaper.errors.not-image', { file, reason: err.message }));
    });
    const entry = { version, image };
    this.images.set(file, entry);
    return entry;
  }
}

/** A screen's pixels, row by row (RGBA): how the backdrop and the text band are handed to the encoder. */
type Rows = (y: number) => Uint8Array;

/** Paints the background: black, then the colour or the image scaled to cover the screen. */
function paintBackground(ctx: SKRSContext2D, spec: WallpaperSpec, image?: Image): void {
  ctx.fillStyle = 'colour' in spec.background ? spec.background.colour : '#000000';
  ctx.fillRect(0, 0, spec.width, spec.height);
  if (image) drawCovering(ctx, image, spec.width, spec.height);
}

// Measures text for layout; drawing happens on a canvas no larger than the text needs.
const measuring = createCanvas(1, 1).getContext('2d');

/**
 * Only the band the text covers is rasterised and read back: reading a whole 1179 x 2556
 * canvas costs more than drawing and encoding the rest, which comes from the backdrop.
 */
function draw(spec: WallpaperSpec, backdrop: Rows, image?: Image): Buffer {
  const { width, height } = spec;
  const text = spec.text.replace(/\r\n?/g, '\n').replace(UNSAFE, '').trim();
  if (!text) return encodePng(width, height, backdrop);

  // Below the lock screen's clock, clear of the home indicator.
  const box = { left: width * 0.08, top: height * 0.4, width: width * 0.84, height: height * 0.48 };
  const families = wallpaperFontFamilies();
  const { size, lines } = fitText(measuring, text, box.width, box.height, Math.round(width / 11), families);
  const lineHeight = size * 1.25;
  const first = box.top + (box.height - lineHeight * lines.length) / 2 + lineHeight / 2;
  // Room for ascenders, diacritics and the shadow beyond each line's middle.
  const reach = lineHeight / 2 + size * 0.6;
  const top = Math.max(0, Math.floor(first - reach));
  const bottom = Math.min(height, Math.ceil(first + (lines.length - 1) * lineHeight + reach));

  const band = createCanvas(width, bottom - top);
  const ctx = band.getContext('2d');
  ctx.translate(0, -top);
  paintBackground(ctx, spec, image);
  ctx.font = `${size}px ${families}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  const background = spec.background;
  ctx.fillStyle = 'colour' in background && isLight(background.colour) ? '#000000' : '#ffffff';
  if (image) {
    ctx.shadowColor = 'rgba(0, 0, 0, 0.7)';
    ctx.shadowBlur = size / 6;
  }
  lines.forEach((line, i) => ctx.fillText(line, box.left + box.width / 2, first + i * lineHeight));
  const pixels = band.data();
  const stride = width * 4;
  return encodePng(width, height, (y) => (y >= top && y < bottom ? pixels.subarray((y - top) * stride, (y - top + 1) * stride) : backdrop(y)));
}

/** The screen without text: one row for a colour, every row of an image background. */
function backdropOf(spec: WallpaperSpec, image?: Image): Rows {
  const canvas = createCanvas(spec.width, image ? spec.height : 1);
  paintBackground(canvas.getContext('2d'), spec, image);
  const pixels = canvas.data();
  const stride = spec.width * 4;
  return image ? (y) => pixels.subarray(y * stride, (y + 1) * stride) : () => pixels;
}

/** Scales the image to cover the screen, centred, cropping what overflows. */
function drawCovering(ctx: SKRSContext2D, image: Image, width: number, height: number): void {
  const scale = Math.max(width / image.width, height / image.height);
  const w = image.width * scale;
  const h = image.height * scale;
  ctx.drawImage(image, (width - w) / 2, (height - h) / 2, w, h);
}

/** The largest font size (binary search) at which the wrapped text fits the box. */
function fitText(ctx: SKRSContext2D, text: string, maxWidth: number, maxHeight: number, largest: number, families: string): { size: number; lines: string[] } {
  const MIN = 12;
  const layout = (size: number): string[] => {
    ctx.font = `${size}px ${families}`;
    return text.split('\n').flatMap((paragraph) => wrap(ctx, paragraph, maxWidth));
  };
  const fits = (size: number, lines: string[]) => lines.length * size * 1.25 <= maxHeight;
  let low = MIN;
  let high = largest;
  let best = { size: MIN, lines: layout(MIN) };
  if (!fits(MIN, best.lines)) {
    // Longer than any screen holds: as many lines as fit, the last one ending in an ellipsis.
    const keep = Math.max(1, Math.floor(maxHeight / (MIN * 1.25)));
    const lines = best.lines.slice(0, keep);
    lines[keep - 1] = `${[...graphemes.segment(lines[keep - 1])]
      .slice(0, -1)
      .map((g) => g.segment)
      .join('')}\u2026`;
    return { size: MIN, lines };
  }
  while (low < high) {
    const size = Math.ceil((low + high) / 2);
    const lines = layout(size);
    if (fits(size, lines)) {
      best = { size, lines };
      low = size;
    } else high = size - 1;
  }
  return best;
}

/** Greedy line filling at word boundaries; a word wider than a line breaks between characters. */
function wrap(ctx: SKRSContext2D, paragraph: string, maxWidth: number): string[] {
  const lines: string[] = [];
  let line = '';
  const push = () => {
    if (line.trim()) lines.push(line.trim());
    line = '';
  };
  for (const { segment } of words.segment(paragraph)) {
    if (ctx.measureText(line + segment).width <= maxWidth) {
      line += segment;
      continue;
    }
    push();
    const word = segment.trimStart();
    if (ctx.measureText(word).width <= maxWidth) {
      line = word;
      continue;
    }
    for (const { segment: g } of graphemes.segment(word)) {
      if (line && ctx.measureText(line + g).width > maxWidth) push();
      line += g;
    }
  }
  push();
  return lines.length > 0 ? lines : [''];
}

/** Whether a `#rrggbb` colour is light enough to need dark text. */
function isLight(colour: string): boolean {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})/i.exec(colour);
  if (!match) return false;
  const [r, g, b] = match.slice(1).map((hex) => parseInt(hex, 16) / 255);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.6;
}
