// Hundreds of malformed request lines, targets, headers and bodies on raw sockets at a live `serve`: it must answer
// every whole request with well-formed HTTP (problem+json for every error), never fail as the app's fault, and keep
// answering health after every batch. The generator is seeded: a failure names the seed and the request to replay.

import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { type RunningServer, serveHttp } from '../../src/http/serveHttp';
import { problemDefect, rawExchange } from '../support/rawHttp';

/** Change it (or set FUZZ_SEED) to explore; a failing run prints the seed and the request. */
const SEED = Number(process.env.FUZZ_SEED ?? 18_2026);
const REQUESTS = 400;
const BATCH = 40;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => next() < p;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { int, pick, chance, bytes };
}
type Random = ReturnType<typeof random>;

interface FuzzRequest {
  bytes: Buffer;
  /**
   * Whole and correctly framed (the server has every byte it needs), so an answer is owed. Otherwise (a body
   * shorter than its Content-Length, broken chunks, bare LF line ends) the client half-closes and any answer
   * must merely be well-formed.
   */
  framed: boolean;
}

const METHODS = ['GET', 'GET', 'GET', 'HEAD', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE'];
const BAD_METHODS = ['get', 'FROB', 'G ET', '', 'GET\x00', 'POST\t', 'CONNECT', 'ÄÖÜ', 'GET/'];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'http/1.1', ''];
const HOSTILE = [
  '[',
  ']',
  '\\',
  '%',
  '%0',
  '%zz',
  '%00',
  '%2F',
  '%E0%A4%A',
  '#',
  '?',
  '@',
  ':',
  '..',
  './',
  '//',
  '~',
  '{',
  '}',
  '|',
  '^',
  "'",
  '"',
  '<',
  '>',
  ' ',
  '\t',
  'é',
  '\u2028',
  '\x7f',
  '\x01',
  '*',
  '=',
  '&',
  ';',
];
const ABSOLUTE = [
  'http://[::1',
  'http://a:99999',
  'http://user@',
  'http://user:pw@host',
  'http://evil.example',
  'https://evil.example:8443',
  'http://',
  'ftp://x',
  '//[',
  '//a:99999',
  '//x%00y',
  '//user@:80',
  '*',
  'a:80',
  '',
];
const QUERIES = [
  '',
  '?top=1',
  '?top=',
  '?top=-1&top=2',
  '?format=xml',
  '?code=',
  '?code=aBcD3fGhIjKlMnOpQrStUvWxYz0123456789',
  '?__proto__=1',
  '?constructor[prototype]=1',
  '?status=%27%20or%201%20eq%201',
  '?continuationToken=v1.AAAA',
  '?runId=../../etc/passwd',
  '?&&&',
  '?=',
  '?a=%',
];
const HEADER_NAMES = [
  'Accept',
  'Content-Type',
  'X-Functions-Key',
  'X-Ms-Client-Principal',
  'Idempotency-Key',
  'If-None-Match',
  'If-Match',
  'Cookie',
  'Origin',
  'X-Forwarded-Host',
  'X-Forwarded-Proto',
  'Upgrade',
  'Connection',
  'Expect',
  'Range',
  'Authorization',
];
const BAD_HEADER_LINES = [
  'NoColon',
  ': empty-name',
  'Bad Name: x',
  'X-Nul\x00: 1',
  'X-Ctl: a\x01b',
  ' Leading: space',
  'X-Obs: a\r\n folded',
  'Content-Length: abc',
  'Content-Length: -1',
  'Transfer-Encoding: gzip',
];

function target(r: Random, runId: string): string {
  const routes = [
    '/api/health',
    '/api/report',
    '/api/runs',
    `/api/runs/${runId}`,
    `/api/runs/${runId}/email`,
    '/api/exemptions',
    '/api/exemptions/fuzz',
    '/api/exemptions/fuzz/history',
    '/api/openapi.json',
    '/api/audits',
    '/api/nothing',
    '/',
  ];
  let path = r.pick(routes);
  // Half the targets stay intact, so the mix also reaches the handlers behind the parser.
  const mutations = r.chance(0.5) ? 0 : 1 + r.int(3);
  for (let i = 0; i < mutations; i++) {
    const at = r.int(path.length + 1);
    path = path.slice(0, at) + r.pick(HOSTILE) + path.slice(at);
  }
  if (r.chance(0.2)) path = r.pick(ABSOLUTE) + path;
  if (r.chance(0.03)) path = `/${'a'.repeat(9_000)}`;
  return path + r.pick(QUERIES);
}

function headerValue(r: Random): string {
  switch (r.int(8)) {
    case 0:
      return '';
    case 1:
      return 'x'.repeat(r.chance(0.2) ? 20_000 : r.int(300));
    case 2:
      return Buffer.from(r.bytes(24)).toString('base64');
    case 3:
      return '"\'<script>é\u00ff';
    case 4:
      return 'application/json; charset=utf-16';
    case 5:
      return 'websocket';
    case 6:
      return '100-continue';
    default:
      return 'keep-alive';
  }
}

function body(r: Random): Buffer {
  switch (r.int(7)) {
    case 0:
      return Buffer.alloc(0);
    case 1:
      return r.bytes(r.int(200));
    case 2:
      return Buffer.from('{"__proto__": {"admin": true}, "to": ["attacker@evil.example"]}');
    case 3:
      return Buffer.from(`${'['.repeat(3000)}${']'.repeat(3000)}`);
    case 4:
      return Buffer.from('{"subscriptions": ["not-a-guid"], "email": "yes"}');
    case 5:
      return Buffer.from('{"scope": "/subscriptions/x", "constructor": {"prototype": {}}}');
    default:
      return Buffer.from('{}');
  }
}

/** One request: mostly plausible with one or two things wrong, sometimes garbage throughout. */
function fuzzRequest(r: Random, runId: string): FuzzRequest {
  if (r.chance(0.05)) {
    // One line of random bytes, then the blank line: a whole (if meaningless) head. Empty lines alone would
    // rightly leave the server waiting for a request line (RFC 9112 §2.2), so the line is never empty.
    const line = Buffer.from(r.bytes(1 + r.int(400)).map((b) => (b === 10 || b === 13 ? 120 : b)));
    return { bytes: Buffer.concat([line, Buffer.from('\r\n\r\n')]), framed: true };
  }
  const method = r.chance(0.1) ? r.pick(BAD_METHODS) : r.pick(METHODS);
  const version = r.chance(0.15) ? r.pick(VERSIONS) : 'HTTP/1.1';
  const lines = [`${method} ${target(r, runId)} ${version}`.replace(/ $/, '')];
  if (r.chance(0.95)) lines.push(`Host: ${r.pick(['127.0.0.1', 'evil.example', '', '[::1', 'a:99999'])}`);
  for (let i = r.int(4); i > 0; i--) lines.push(`${r.pick(HEADER_NAMES)}: ${headerValue(r)}`);
  if (r.chance(0.1)) lines.push(r.pick(BAD_HEADER_LINES));
  const payload = r.chance(0.4) ? body(r) : Buffer.alloc(0);
  let framed = true;
  let encoded = payload;
  const framing = r.int(10);
  if (framing < 5) {
    if (payload.length) lines.push(`Content-Length: ${payload.length}`);
  } else if (framing < 7) {
    lines.push('Transfer-Encoding: chunked');
    const chunked = `${payload.length ? `${payload.length.toString(16)}\r\n${payload.toString('latin1')}\r\n` : ''}0\r\n\r\n`;
    encoded = Buffer.from(chunked, 'latin1');
  } else if (framing < 8) {
    lines.push(`Content-Length: ${payload.length + 1 + r.int(100)}`); // more promised than sent
    framed = false;
  } else if (framing < 9) {
    lines.push('Transfer-Encoding: chunked'); // a chunk size that is not hex, or a missing last chunk
    encoded = Buffer.from(
      r.chance(0.5) ? `zz\r\n${payload.toString('latin1')}\r\n0\r\n\r\n` : '5\r\nab',
      'latin1',
    );
    framed = false;
  } else {
    lines.push(`Content-Length: ${payload.length}`, 'Transfer-Encoding: chunked'); // both: request smuggling
    framed = false;
  }
  const newline = r.chance(0.03) ? '\n' : '\r\n';
  if (newline === '\n') framed = false;
  return {
    bytes: Buffer.concat([Buffer.from(lines.join(newline) + newline + newline, 'latin1'), encoded]),
    framed,
  };
}

let local: LocalAzure;
let server: RunningServer;
let runId: string;
let service: App;

beforeAll(async () => {
  local = await startLocalAzure(generateEstate({ seed: 7, pools: 30, subscriptions: 2 }));
  service = new App(loadConfig({ ...local.env, AUDIT_TABLE_PREFIX: 'fuzz' }));
  runId = (await service.audit({ trigger: 'cli' })).run.id;
  await service.exemptionStore.ensureTable();
  // A request that happens to be a valid POST /api/audits queues a real audit; the app's queue is drained at the end.
  const handlers = service.httpHandlers();
  server = await serveHttp({ handlers, port: 0 });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await service?.drain();
  service?.close();
  await local?.stop();
});

it(`answers ${REQUESTS} malformed requests with well-formed HTTP and stays healthy (seed ${SEED})`, async () => {
  const r = random(SEED);
  const requests = Array.from({ length: REQUESTS }, () => fuzzRequest(r, runId));
  const statuses = new Map<number, number>();
  let unanswered = 0;
  for (let start = 0; start < requests.length; start += BATCH) {
    const batch = requests.slice(start, start + BATCH);
    const exchanges = await Promise.all(
      batch.map((request) =>
        rawExchange(server.port, request.bytes, { mode: request.framed ? 'answer' : 'halfClose' }),
      ),
    );
    exchanges.forEach((exchange, i) => {
      const request = batch[i]!;
      const replay = `seed ${SEED}, request ${start + i}: ${JSON.stringify(request.bytes.toString('latin1').slice(0, 300))}`;
      const defects: string[] = [];
      if (exchange.hung) defects.push('the server neither answered nor closed');
      if (exchange.malformed) defects.push(`malformed response: ${exchange.malformed}`);
      const finals = exchange.responses.filter((res) => res.status >= 200);
      if (request.framed && finals.length === 0) defects.push('no answer to a whole request');
      if (finals.length === 0) unanswered += 1;
      for (const res of finals) {
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 500 || res.status === 502) defects.push(`${res.status}: a fault of the app`);
        if (res.status >= 400) {
          const defect = problemDefect(res);
          if (defect) defects.push(`${res.status} that is no problem+json: ${defect}`);
        }
        if (JSON.stringify(res.headers).includes('evil.example'))
          defects.push('a header names the client-chosen host');
      }
      if (defects.length && process.env.FUZZ_DEBUG) {
        process.stdout.write(
          `${replay}\nframed=${request.framed}\nfull=${JSON.stringify(request.bytes.toString('latin1').slice(-300))}\nresponse=${JSON.stringify(exchange.leftover.toString('latin1').slice(0, 600))}\n`,
        );
      }
      expect([replay, defects]).toEqual([replay, []]);
    });
    const health = await fetch(`${server.url}/api/health`);
    expect([`after request ${start + batch.length}`, health.status]).toEqual([
      `after request ${start + batch.length}`,
      200,
    ]);
  }
  const summary = [...statuses.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`);
  process.stdout.write(
    `Fuzzed serve with ${REQUESTS} requests (seed ${SEED}): ${summary.join(', ')}; ${unanswered} cut-short requests closed without an answer\n`,
  );
  // The mix reached past the parser into the handlers, not only Node's refusals.
  expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
  expect(statuses.get(400) ?? 0).toBeGreaterThan(REQUESTS / 10);
});
