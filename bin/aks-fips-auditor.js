#!/usr/bin/env node
// Entry point of the aks-fips-auditor command; the code lives in dist/ (npm run build).
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('aks-fips-auditor is not built yet: run `npm run build` first.\n');
  process.exit(2);
}
const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  process.stderr.write(
    `aks-fips-auditor needs Node.js 22 or later (this is ${process.version}). Run it through npx or an npm script, which use the node@22 dev dependency.\n`,
  );
  process.exit(2);
}
require(entry)
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
