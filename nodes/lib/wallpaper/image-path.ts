import { dirname, resolve, sep } from 'node:path';
import { firstPlaceholder, renderTemplate } from '../attributes';
import type { Device } from '../device';
import { catalogText, CodedError } from '../coded-error';

/**
 * The image file for this device. With placeholders in the path, the file must stay inside the
 * folder named before the first one: `/wallpapers/[Ward].png` never reads `/secret/x`.
 */
export function imagePath(template: string, device: Device): string {
  const path = renderTemplate(template, device);
  const first = firstPlaceholder(template);
  if (first < 0) return path;
  const folder = resolve(dirname(`${template.slice(0, first)}x`));
  if (!resolve(path).startsWith(folder + sep)) {
    throw new CodedError('INVALID_WALLPAPER', catalogText('set-wallpaper.errors.image-outside', { folder }));
  }
  return path;
}
