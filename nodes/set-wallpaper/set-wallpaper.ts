import type { NodeAPI } from 'node-red';
import { renderTemplate } from '../lib/attributes';
import { imagePath } from '../lib/wallpaper/image-path';
import { settings, wallpaper, type WallpaperWhere } from '../lib/mdm/commands';
import { WallpaperRenderer, type WallpaperBackground } from '../lib/wallpaper/wallpaper-renderer';
import { registerDeviceAction, type DeviceActionDef } from '../shared/device-action';
import { numberField } from '../shared/defaults';

interface SetWallpaperDef extends DeviceActionDef {
  /** e.g. "Checked Out to [Device User]"; empty: the background alone. */
  text?: string;
  background?: 'black' | 'colour' | 'image';
  colour?: string;
  /** A PNG or JPEG file on the Node-RED host. */
  imageFile?: string;
  where?: 'lock' | 'home' | 'both';
  width?: string;
  height?: string;
}

const WHERE: Record<string, WallpaperWhere> = { lock: 1, home: 2, both: 3 };

/** One renderer (and its cache) for every set-wallpaper node. */
const renderer = new WallpaperRenderer();

export default function (RED: NodeAPI): void {
  registerDeviceAction<SetWallpaperDef>(RED, 'set-wallpaper', async (config, { device, mdm, wait }) => {
    const background: WallpaperBackground =
      config.background === 'image'
        ? { imageFile: imagePath(config.imageFile ?? '', device) }
        : { colour: config.background === 'colour' ? (config.colour ?? '') : '#000000' };
    const image = await renderer.render({
      width: numberField('set-wallpaper', config, 'width'),
      height: numberField('set-wallpaper', config, 'height'),
      background,
      text: renderTemplate(config.text ?? '', device),
    });
    await mdm.perform(device.udid, settings(wallpaper(image, WHERE[config.where ?? 'lock'] ?? 1)), wait);
  });
}
