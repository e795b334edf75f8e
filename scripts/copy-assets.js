// Puts what the compiled code reads next to it in dist/, where Node-RED and the code look:
// each node's editor HTML and locales, the icons once; Apple's schemas as JSON; the wallpaper fonts.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const yaml = require('js-yaml');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
const types = Object.keys(require('../package.json')['node-red'].nodes);

for (const type of types) {
  const out = path.join(dist, 'nodes', type);
  fs.mkdirSync(out, { recursive: true });
  fs.copyFileSync(path.join(root, 'nodes', type, `${type}.html`), path.join(out, `${type}.html`));
  for (const lang of fs.readdirSync(path.join(root, 'locales'))) {
    for (const ext of ['json', 'html']) {
      const file = path.join(root, 'locales', lang, `${type}.${ext}`);
      if (!fs.existsSync(file)) continue;
      fs.mkdirSync(path.join(out, 'locales', lang), { recursive: true });
      fs.copyFileSync(file, path.join(out, 'locales', lang, `${type}.${ext}`));
    }
  }
}
// Node-RED serves every icons/ folder next to a node's .js for the whole module: one copy does.
fs.cpSync(path.join(root, 'icons'), path.join(dist, 'nodes', types[0], 'icons'), { recursive: true });

// Apple's YAML as JSON: the runtime validates commands without a YAML parser.
const schemas = path.join(root, 'schemas', 'apple');
for (const entry of fs.readdirSync(schemas, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile()) continue;
  const from = path.join(entry.parentPath ?? entry.path, entry.name);
  const to = path.join(dist, 'schemas', 'apple', path.relative(schemas, from));
  fs.mkdirSync(path.dirname(to), { recursive: true });
  if (entry.name.endsWith('.yaml')) fs.writeFileSync(to.replace(/\.yaml$/, '.json'), JSON.stringify(yaml.load(fs.readFileSync(from, 'utf8'))));
  else fs.copyFileSync(from, to);
}

// The wallpaper fonts (SIL Open Font License), bundled so a render is the same on every host.
const fonts = [
  { pkg: '@fontsource/noto-sans', files: /-700-normal\.woff2$/ },
  { pkg: '@fontsource/noto-sans-arabic', files: /-arabic-700-normal\.woff2$/ },
  { pkg: '@fontsource/noto-sans-hebrew', files: /-hebrew-700-normal\.woff2$/ },
  { pkg: '@fontsource/unifontex', files: /-400-normal\.woff2$/ },
];
for (const { pkg, files } of fonts) {
  const from = path.dirname(require.resolve(`${pkg}/package.json`));
  const to = path.join(dist, 'fonts', path.basename(pkg));
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(path.join(from, 'files')).filter((f) => files.test(f)))
    fs.copyFileSync(path.join(from, 'files', name), path.join(to, name));
  fs.copyFileSync(path.join(from, 'LICENSE'), path.join(to, 'LICENSE'));
}

// Chart.js's browser build (MIT) for the fleet tab's insights: served by the package, since the
// editor may have no internet (and the Flow Library asks for few dependencies).
const chart = path.dirname(require.resolve('chart.js'));
fs.mkdirSync(path.join(dist, 'vendor'), { recursive: true });
fs.copyFileSync(path.join(chart, 'chart.umd.min.js'), path.join(dist, 'vendor', 'chart.umd.min.js'));
fs.copyFileSync(path.join(chart, '..', 'LICENSE.md'), path.join(dist, 'vendor', 'chart.js-LICENSE.md'));
