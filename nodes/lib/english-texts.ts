import { readFileSync } from 'node:fs';
import { builtFile } from './package-root';

type Catalog = { [key: string]: string | Catalog };
const catalogs = new Map<string, Catalog | undefined>();

/** The en-US text of a catalog key (`smart-hub.errors.timeout`) as the build placed it beside its node, if there is one. */
export function englishText(key: string): string | undefined {
  const owner = key.slice(0, key.indexOf('.'));
  if (!catalogs.has(owner)) {
    try {
      catalogs.set(owner, JSON.parse(readFileSync(builtFile('nodes', owner, 'locales', 'en-US', `${owner}.json`), 'utf8')) as Catalog);
    } catch {
      catalogs.set(owner, undefined);
    }
  }
  let found: string | Catalog | undefined = catalogs.get(owner);
  for (const part of key.split('.')) found = typeof found === 'object' ? found[part] : undefined;
  return typeof found === 'string' ? found : undefined;
}

/** Renders a catalog text in English outside Node-RED (the command-line tools): `__name__` filled in, an unknown key as it is. */
export function englishTexts(key: string, values: Record<string, unknown> = {}): string {
  return (englishText(key) ?? key).replace(/__(\w+)__/g, (whole, name: string) => (name in values ? String(values[name] ?? '') : whole));
}
