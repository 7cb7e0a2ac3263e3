// Reads exports (`az aks list`, `az graph query`, or plain resource arrays) as a cluster source for `audit --input`.

import { readFile } from 'node:fs/promises';

import type { SourceEvent } from '../azure/resourceGraphSource';
import { InputError } from '../errors';
import type { ClusterSource } from '../pipeline/auditScope';

/** Pulls the cluster objects out of one parsed export, whatever tool printed it. */
export function clustersInExport(parsed: unknown, origin: string): unknown[] {
  const items = Array.isArray(parsed)
    ? parsed
    : parsed && typeof parsed === 'object' && Array.isArray((parsed as { data?: unknown }).data)
      ? (parsed as { data: unknown[] }).data
      : null;
  if (!items) {
    throw new InputError(
      `${origin} is neither a JSON array of clusters (az aks list -o json) nor an object with a "data" array (az graph query -o json)`,
    );
  }
  return items.filter((item) => {
    const type = (item as { type?: unknown } | null)?.type;
    // `az aks list` rows carry type Microsoft.ContainerService/ManagedClusters; other resource types are skipped.
    return typeof type !== 'string' || type.toLowerCase() === 'microsoft.containerservice/managedclusters';
  });
}

/** A ClusterSource over one or more export files, read as one estate. */
export async function readExports(paths: string[]): Promise<ClusterSource> {
  const pages: unknown[][] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new InputError(`--input ${path} cannot be read: ${(error as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
    } catch (error) {
      throw new InputError(`--input ${path} is not valid JSON: ${(error as Error).message}`);
    }
    pages.push(clustersInExport(parsed, `--input ${path}`));
  }
  return {
    async *readClusters(): AsyncIterableIterator<SourceEvent> {
      for (const rows of pages) {
        await Promise.resolve();
        yield { kind: 'clusters', scope: null, rows };
      }
    },
  };
}
