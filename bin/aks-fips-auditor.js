#!/usr/bin/env node
// Entry point of the aks-fips-auditor command; the code lives in dist/ (npm run build).
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { spawn } = require('node:child_process');

/**
 * The heap the command holds itself to, as the Function App's 2,048 MB instance gives V8 (a quarter of it): V8
 * would otherwise size its heap from the host (4 GB on a 16 GB laptop) and let garbage pile up to that. An explicit
 * --max-old-space-size (in NODE_OPTIONS or on node's command line) wins.
 */
const HEAP_LIMIT_IN_MB = 512;

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

const heapFlag = /--max-old-space-size[=\s]/;
const heapIsSet =
  process.execArgv.some((arg) => heapFlag.test(`${arg} `)) ||
  heapFlag.test(`${process.env.NODE_OPTIONS ?? ''} `);

if (heapIsSet) {
  require(entry)
    .main(process.argv.slice(2))
    .then((code) => {
      process.exitCode = code;
    });
} else {
  // Run again under the ceiling: V8 sizes its heap when the process starts, so the flag cannot be set from here.
  const child = spawn(
    process.execPath,
    [...process.execArgv, `--max-old-space-size=${HEAP_LIMIT_IN_MB}`, __filename, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  // Ctrl-C reaches both processes (one process group): the command handles it; a signal sent to this one only
  // (a supervisor's SIGTERM) is passed on.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  process.on('SIGHUP', () => child.kill('SIGHUP'));
  child.on('error', (error) => {
    process.stderr.write(`aks-fips-auditor could not start: ${error.message}\n`);
    process.exit(2);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}
