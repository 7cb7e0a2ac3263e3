// Writes each sealed run's evidence bundle to a Blob container under a time-based immutability (WORM) policy.

import { createHash } from 'node:crypto';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import type { TokenCredential } from '@azure/core-auth';
import { ContainerClient } from '@azure/storage-blob';

import { describeError } from '../errors';
import { runRowKey } from '../store/runStore';
import type { LinkSignatureVerifier } from './chainLink';
import { openEvidenceBundle } from './evidenceBundle';
import type { EvidenceStore, RetentionRecord } from './evidenceStore';
import type { BundleRetention } from './runEvidence';

/** Block size and blocks in flight of the streamed upload: at most 8 MiB of the bundle in memory. */
const BLOCK_BYTES = 4 * 1024 * 1024;
const BLOCKS_IN_FLIGHT = 2;

export interface BlobBundleRetentionOptions {
  store: EvidenceStore;
  /** `https://<account>.blob.<suffix>/<container>` (AUDIT_EVIDENCE_CONTAINER). */
  containerUrl: string;
  credential: TokenCredential;
  verifier?: LinkSignatureVerifier | null;
  now?: () => Date;
}

function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null
    ? (error as { statusCode?: number }).statusCode
    : undefined;
}

/** The blob a run's bundle is written to. */
export function bundleBlobName(runId: string): string {
  return `runs/${runId}/fips-audit-evidence-${runId}.zip`;
}

/**
 * Retention of the bundles. A bundle is written once, with `If-None-Match: *`, as a block blob streamed in
 * 4 MiB blocks: the container's immutability policy then keeps anyone, this app included, from changing or
 * deleting it for its retention period, so the identity needs only to create blobs (and read one back, to
 * recognise a bundle retained by an earlier attempt). Every outcome is recorded in the evidence table and on
 * the run record; a failure is recorded and thrown, never retried in a loop, and never touches the run.
 */
export class BlobBundleRetention implements BundleRetention {
  private readonly container: ContainerClient;

  constructor(private readonly options: BlobBundleRetentionOptions) {
    this.container = new ContainerClient(options.containerUrl, options.credential);
  }

  async retain(runId: string): Promise<void> {
    const now = this.options.now ?? (() => new Date());
    const blob = this.container.getBlockBlobClient(bundleBlobName(runId));
    const blobUrl = blob.url.split('?')[0] as string;
    let record: RetentionRecord;
    try {
      const bundle = await openEvidenceBundle(this.options.store, runId, {
        verifier: this.options.verifier ?? null,
      });
      const hash = createHash('sha256');
      let bytes = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          bytes += chunk.length;
          done(null, chunk);
        },
      });
      const body = new PassThrough();
      const piping = pipeline(bundle.zip, counter, body);
      try {
        await blob.uploadStream(body, BLOCK_BYTES, BLOCKS_IN_FLIGHT, {
          blobHTTPHeaders: {
            blobContentType: 'application/zip',
            blobContentDisposition: `attachment; filename="fips-audit-evidence-${runId}.zip"`,
          },
          metadata: { runid: runId },
          conditions: { ifNoneMatch: '*' },
        });
        await piping;
      } catch (error) {
        body.destroy();
        await piping.catch(() => undefined);
        throw error;
      }
      const manifest = await bundle.manifest;
      record = {
        runId,
        state: 'retained',
        at: now().toISOString(),
        blobUrl,
        sha256: hash.digest('hex'),
        bytes,
        reason: manifest.chain ? null : 'the run is not sealed: its bundle carries no chain digest',
      };
    } catch (error) {
      const status = statusOf(error);
      if (status === 409 || status === 412) {
        // Written by an earlier attempt (the blob exists, and its policy keeps it as it was): recorded as retained.
        const properties = await blob.getProperties().catch(() => undefined);
        record = {
          runId,
          state: properties ? 'retained' : 'failed',
          at: now().toISOString(),
          blobUrl,
          sha256: null,
          bytes: properties?.contentLength ?? null,
          reason: properties
            ? 'retained by an earlier attempt'
            : `the blob exists but could not be read: ${describeError(error)}`,
        };
      } else {
        record = {
          runId,
          state: 'failed',
          at: now().toISOString(),
          blobUrl,
          sha256: null,
          bytes: null,
          reason: describeError(error),
        };
      }
    }
    await this.options.store.recordRetention(record);
    await this.options.store
      .annotateRun(runRowKey(runId), {
        retention: {
          state: record.state,
          at: record.at,
          blobUrl: record.blobUrl,
          sha256: record.sha256,
          reason: record.reason,
        },
      })
      .catch(() => undefined);
    if (record.state === 'failed') {
      throw new Error(
        `The evidence bundle of run ${runId} was not retained in ${blobUrl}: ${record.reason ?? ''}`,
      );
    }
  }
}
