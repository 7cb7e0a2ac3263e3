// Reads an evidence bundle the way an assessor would: every file of the zip, and NIST's schema to check the OSCAL with.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { fromBuffer, type ZipFile } from 'yauzl';

export const OSCAL_SCHEMA_PATH = join(
  __dirname,
  '..',
  'data',
  'oscal',
  'oscal-1.0.6-assessment-results.schema.json',
);

/** NIST's OSCAL 1.0.6 assessment-results schema, compiled with ajv (draft-07) and its formats. */
export function oscalValidator(): ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(OSCAL_SCHEMA_PATH, 'utf8')) as object);
}

/** Every entry of a zip as name → bytes, in the zip's order. */
export async function unzip(zip: Buffer): Promise<Map<string, Buffer>> {
  const file = await new Promise<ZipFile>((resolve, reject) =>
    fromBuffer(zip, { lazyEntries: true }, (error, z) => (error ? reject(error) : resolve(z))),
  );
  const entries = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    file.on('error', reject);
    file.on('end', () => resolve());
    file.on('entry', (entry: { fileName: string }) => {
      file.openReadStream(entry as never, (error, stream) => {
        if (error || !stream) return reject(error ?? new Error('no stream'));
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', reject);
        stream.on('end', () => {
          entries.set(entry.fileName, Buffer.concat(chunks));
          file.readEntry();
        });
      });
    });
    file.readEntry();
  });
  return entries;
}
