// Puts each node's editor HTML, locales and icons next to its compiled .js, where Node-RED looks.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const types = Object.keys(require('../package.json')['node-red'].nodes);

for (const type of types) {
  const out = path.join(root, 'dist', 'nodes', type);
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
  fs.cpSync(path.join(root, 'icons'), path.join(out, 'icons'), { recursive: true });
}
