import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GlobalFonts } from '@napi-rs/canvas';
import { builtFile } from '../package-root';

/** Where the build puts the fonts, from the Fontsource packages. */
const FONT_DIR = builtFile('fonts');

/**
 * The fonts wallpapers are drawn with, shipped inside the package so a render looks the same
 * on every host whatever it has installed: Noto Sans (Latin, Greek, Cyrillic, Vietnamese,
 * Devanagari), Noto Sans Arabic and Hebrew, and UnifontEX for every other character of
 * Unicode's basic and supplementary planes (CJK, Thai, emoji...). First match wins.
 */
const FONTS = [
  { family: 'Device Checkout Sans', dir: 'noto-sans' },
  { family: 'Device Checkout Arabic', dir: 'noto-sans-arabic' },
  { family: 'Device Checkout Hebrew', dir: 'noto-sans-hebrew' },
  { family: 'Device Checkout Unifont', dir: 'unifontex' },
];

let registered = false;

/** The CSS font-family list for canvas text, registering the bundled fonts on first use. */
export function wallpaperFontFamilies(): string {
  if (!registered) {
    for (const { family, dir } of FONTS) {
      const files = readdirSync(join(FONT_DIR, dir)).filter((name) => name.endsWith('.woff2'));
      if (files.length === 0) throw new Error(`no fonts in ${join(FONT_DIR, dir)}`);
      for (const name of files) GlobalFonts.registerFromPath(join(FONT_DIR, dir, name), family);
    }
    registered = true;
  }
  return FONTS.map((f) => `"${f.family}"`).join(', ');
}
