// `npm run openapi`: writes docs/openapi.json from the schemas (a test fails when the committed file is stale).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { openApiText } from './openApi';

export const OPENAPI_PATH = join('docs', 'openapi.json');

export function writeOpenApi(root: string = process.cwd()): string {
  const target = join(root, OPENAPI_PATH);
  writeFileSync(target, openApiText());
  return target;
}

if (require.main === module) {
  process.stdout.write(`Wrote ${writeOpenApi()}\n`);
}
