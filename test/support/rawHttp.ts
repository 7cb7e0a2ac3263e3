// Raw HTTP/1.1 over a socket, for requests fetch would refuse to send, and a strict reader of what comes back.

import net from 'node:net';

export interface RawResponse {
  statusLine: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawExchange {
  /** Every response read, in order (a pipelined request gets several). */
  responses: RawResponse[];
  /** Bytes that are not a whole, well-framed response; empty when the server only sent whole responses. */
  leftover: Buffer;
  /** Why the bytes are not well-formed HTTP/1.1 responses, or null. */
  malformed: string | null;
  /** The server did not close the connection within the safety limit (a hang, not a slow answer). */
  hung: boolean;
}

/** Longest a test waits for an answer it is owed; only a guard against hangs, never a measure of speed. */
const SAFETY_LIMIT_IN_MS = 30_000;

export interface ExchangeOptions {
  /**
   * `answer` (default): the request is whole, so the server owes `responses` answers; the exchange ends once they
   * arrived (or the server closed). `halfClose`: the request may be cut short, so the client then says it will
   * send nothing more (FIN) and reads whatever comes until the server closes; Node drops requests still in
   * flight then, so only requests that may go unanswered are sent this way.
   */
  mode?: 'answer' | 'halfClose';
  responses?: number;
}

/** Sends `bytes` (anything at all: nothing checks them) on a fresh connection to 127.0.0.1:`port`. */
export function rawExchange(
  port: number,
  bytes: Buffer | string,
  options: ExchangeOptions = {},
): Promise<RawExchange> {
  const mode = options.mode ?? 'answer';
  const expected = options.responses ?? 1;
  const head = bodylessFor(bytes);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let hung = false;
    let settled = false;
    const socket = net.connect(port, '127.0.0.1', () => {
      if (mode === 'halfClose') socket.end(bytes);
      else socket.write(bytes);
    });
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseResponses(Buffer.concat(chunks), head), hung });
    };
    const timer = setTimeout(() => {
      hung = true;
      finish();
    }, SAFETY_LIMIT_IN_MS);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (mode !== 'answer') return;
      const read = parseResponses(Buffer.concat(chunks), head);
      // Interim answers (100 Continue) are not the answer owed.
      const final = read.responses.filter((r) => r.status >= 200).length;
      if (read.malformed === null && final >= expected) finish();
    });
    // A reset after the server answered and closed is not the server's fault: what arrived is judged.
    socket.on('error', () => undefined);
    socket.on('close', finish);
  });
}

/** HEAD requests' responses carry no body; the first request's method decides for a simple exchange. */
function bodylessFor(bytes: Buffer | string): boolean {
  return Buffer.from(bytes).subarray(0, 5).toString('latin1') === 'HEAD ';
}

const STATUS_LINE = /^HTTP\/1\.1 (\d{3}) [\x20-\x7E]*$/;
const HEADER = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/;

/** Splits `data` into whole responses framed by Content-Length (this server always sends it), strictly. */
export function parseResponses(data: Buffer, headRequest = false): Omit<RawExchange, 'hung'> {
  const responses: RawResponse[] = [];
  let rest = data;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return { responses, leftover: rest, malformed: 'a response head without its blank line' };
    const [statusLine = '', ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = STATUS_LINE.exec(statusLine);
    if (!status)
      return { responses, leftover: rest, malformed: `a bad status line ${JSON.stringify(statusLine)}` };
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const header = HEADER.exec(line);
      if (!header)
        return { responses, leftover: rest, malformed: `a bad header line ${JSON.stringify(line)}` };
      headers[header[1]!.toLowerCase()] = header[2]!;
    }
    const code = Number(status[1]);
    const bodyless = headRequest || code === 204 || code === 304 || (code >= 100 && code < 200);
    const length = bodyless ? 0 : Number(headers['content-length'] ?? Number.NaN);
    if (!Number.isInteger(length) || length < 0) {
      return { responses, leftover: rest, malformed: `status ${code} without a Content-Length` };
    }
    const bodyStart = end + 4;
    if (rest.length < bodyStart + length) {
      return { responses, leftover: rest, malformed: `a body shorter than its Content-Length ${length}` };
    }
    responses.push({ statusLine, status: code, headers, body: rest.subarray(bodyStart, bodyStart + length) });
    rest = rest.subarray(bodyStart + length);
  }
  return { responses, leftover: rest, malformed: null };
}

/** Why `response` is not a well-formed problem+json (RFC 9457) error, or null when it is one. */
export function problemDefect(response: RawResponse): string | null {
  if (response.headers['content-type'] !== 'application/problem+json; charset=utf-8') {
    return `Content-Type ${response.headers['content-type'] ?? '(none)'}`;
  }
  if (response.headers['x-content-type-options'] !== 'nosniff') return 'no X-Content-Type-Options: nosniff';
  if (response.body.length === 0) return null; // HEAD: the head alone says it
  let body: unknown;
  try {
    body = JSON.parse(response.body.toString('utf8'));
  } catch {
    return 'a body that is not JSON';
  }
  const problem = body as { status?: unknown; title?: unknown; detail?: unknown; type?: unknown };
  if (problem.status !== response.status) return `status ${String(problem.status)} in the body`;
  if (
    typeof problem.title !== 'string' ||
    typeof problem.detail !== 'string' ||
    typeof problem.type !== 'string'
  ) {
    return 'no type, title or detail';
  }
  return null;
}
