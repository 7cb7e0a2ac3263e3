// The request target of an HTTP/1.1 request (RFC 9112 §3.2), checked before anything parses it as a URL.

/** What the adapter routes on: the path and the query, never an authority from the client. */
export interface RequestTarget {
  /** Percent-encoded, dot segments resolved, always starting with `/`. */
  pathname: string;
  /** `''` or `?…`, percent-encoded. */
  search: string;
}

/** RFC 3986 `pchar` and `/`: what an origin-form path may hold (percent-encodings checked on their own). */
const PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
/** A query: any visible ASCII but `#`; browsers leave `{ } | ^ [ ] \` unencoded there, so those pass. */
const QUERY = /^[\x21\x22\x24-\x7E]*$/;
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;
const ABSOLUTE = /^https?:\/\//i;
const MAX_TARGET_LENGTH = 8 * 1024;

/**
 * Checks `raw` (the request line's target, as Node's parser gave it) and returns its path and query, or why it
 * is not a target this server takes. Only the origin form (`/path?query`) and the absolute form with http(s)
 * (`http://host/path`, whose host is then ignored) are served. A target that starts with `//` is a path here,
 * never a scheme-relative URL: `//evil.example/api/report` is the path `//evil.example/api/report` (404), not
 * `/api/report` on another host. The returned parts are then resolved against the server's own origin.
 */
export function parseRequestTarget(raw: string): RequestTarget | { problem: string } {
  if (raw.length > MAX_TARGET_LENGTH)
    return { problem: `The request target is longer than ${MAX_TARGET_LENGTH} characters.` };
  let path: string;
  let query: string;
  if (raw.startsWith('/')) {
    const at = raw.indexOf('?');
    path = at < 0 ? raw : raw.slice(0, at);
    query = at < 0 ? '' : raw.slice(at + 1);
  } else if (ABSOLUTE.test(raw)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return {
        problem: 'The request target is an absolute URL that cannot be parsed (check its host and port).',
      };
    }
    if (url.username !== '' || url.password !== '') {
      return { problem: 'The request target carries a user name or password; send only the path.' };
    }
    path = url.pathname;
    query = url.search.slice(1);
    if (raw.includes('#'))
      return { problem: 'The request target has a fragment (#…); fragments are never sent.' };
  } else {
    return {
      problem: 'The request target must be a path such as /api/health (or an absolute http URL).',
    };
  }
  if (!PATH.test(path)) {
    return {
      problem: 'The path holds characters that must be percent-encoded (such as [ ] \\ | { } or spaces).',
    };
  }
  if (!QUERY.test(query))
    return { problem: 'The query holds characters that must be percent-encoded, or a #.' };
  if (BAD_PERCENT.test(path) || BAD_PERCENT.test(query)) {
    return {
      problem: 'The request target has a malformed percent-encoding: a % not followed by two hex digits.',
    };
  }
  return { pathname: path, search: query === '' ? '' : `?${query}` };
}
