// ETags, If-None-Match and Cache-Control: what lets a dashboard poll every minute for the price of one table read.

import { createHash } from 'node:crypto';

import type { HttpResponseInit } from '@azure/functions';

/** Cache-Control per kind of response. */
export const CACHE_CONTROL = {
  /** JSON and CSV of a finished run: a cache may keep it but must revalidate (a 304 costs one table read). */
  revalidate: 'private, no-cache',
  /** The HTML page carries a fresh CSP nonce per response, so it is never stored or revalidated. */
  html: 'no-store',
  /** Anything about a run still in progress, health, problems and 202s. */
  noStore: 'no-store',
  /** The OpenAPI document changes only with a deployment. */
  openApi: 'private, max-age=300',
} as const;

/** A strong ETag: a hash of everything the representation depends on. */
export function strongEtag(parts: readonly unknown[]): string {
  return `"${createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 32)}"`;
}

/**
 * RFC 9110 If-None-Match for GET/HEAD: true when the header is `*` or lists the ETag (weak comparison,
 * so `W/"x"` matches `"x"`).
 */
export function ifNoneMatchHits(header: string | null, etag: string): boolean {
  if (header === null) return false;
  const value = header.trim();
  if (value === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return (value.match(/(?:W\/)?"[^"]*"/g) ?? []).some((tag) => tag.replace(/^W\//, '') === bare);
}

/** 304 Not Modified: no body, with the validators and caching headers the 200 would have had. */
export function notModified(headers: Record<string, string>): HttpResponseInit {
  return { status: 304, headers };
}
