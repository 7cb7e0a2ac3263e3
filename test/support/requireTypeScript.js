// Lets a child `node` run the project's TypeScript without a build: `node -r ./test/support/requireTypeScript.js x.ts`.
//
// Each .ts file is transpiled to CommonJS as it is required (types are not checked here: jest and `tsc` do that).
// Written out rather than taken from ts-node or tsx: the compiler is already a dependency, and this is all it takes.
'use strict';

const fs = require('node:fs');
const ts = require('typescript');

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2023,
  esModuleInterop: true,
  resolveJsonModule: true,
  inlineSourceMap: true,
};

// Node resolves extensionless requires (`../app`) against the registered extensions, so this also finds them.
require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const { outputText } = ts.transpileModule(source, { fileName: filename, compilerOptions });
  module._compile(outputText, filename);
};
