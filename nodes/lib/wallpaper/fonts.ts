import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GlobalFonts } from '@napi-rs/canvas';

/**
 * The fonts wallpapers are drawn with, shipped as npm packages so a render looks the same on
 * every host whatever it has installed: Noto Sans (Latin, Greek, Cyrillic, Vietnamese,
 * Devanagari), Noto Sans Arabic and Hebrew, and UnifontEX for every other character of
 * Unicode's basic and supplementary planes (CJK, Thai, emoji...).
 */
const FONTS: { family: string; pkg: string; file: RegExp }[] = [
  { family: 'Device Checkout Sans', pkg: '@fontsource/noto-sans', file: /-700-normal\.woff2$/ },
  { family: 'Device Checkout Arabic', pkg: '@fontsource/noto-sans-arabic', file: /-arabic-700-normal\.woff2$/ },
  { family: 'Device Checkout Hebrew', pkg: '@fontsource/noto-sans-hebrew', file: /-hebrew-700-normal\.woff2$/ },
  { family: 'Device Checkout Unifont', pkg: '@fontsource/unifontex', file: /-400-normal\.woff2$/ },
];

let registered = false;

/** The CSS font-family list for canvas text, registering the bundled fonts on first use. */
export function wallpaperFontFamilies(): string {
  if (!registered) {
    for (const { family, pkg, file } of FONTS) {
      const dir = join(dirname(require.resolve(`${pkg}/package.json`)), 'files');
      const files = readdirSync(dir).filter((name) => file.test(name));
      if (files.length === 0) throw new Error(`no font files matching ${file} in ${pkg}`);
      for (const name of files) GlobalFonts.registerFromPath(join(dir, name), family);
    }
    registered = true;
  }
  return FONTS.map((f) => `"${f.family}"`).join(', ');
}
