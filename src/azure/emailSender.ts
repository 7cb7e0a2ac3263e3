// The ways a digest leaves the app: ACS Email (real EmailClient), SMTP with STARTTLS (nodemailer), or .eml files.

import { mkdir, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

import { EmailClient, type EmailMessage as AcsEmailMessage } from '@azure/communication-email';
import type { TokenCredential } from '@azure/core-auth';
import { createTransport } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';

import { sanitize } from '../errors';
import { serverDelayInMs } from './retryPolicy';

export type EmailProviderName = 'acs' | 'smtp' | 'file';

export interface EmailAttachment {
  name: string;
  contentType: string;
  content: Buffer;
}

/** One message, whatever path it takes. */
export interface EmailMessage {
  from: string;
  to: readonly string[];
  subject: string;
  html: string;
  text: string;
  attachments: readonly EmailAttachment[];
  /** Extra headers (`X-…`); the SMTP and file paths also set Message-ID from the operation ID. */
  headers: Readonly<Record<string, string>>;
}

export interface SendOptions {
  /**
   * A GUID minted before the first attempt and kept across retries and restarts: the ACS Operation-Id (ACS
   * treats a repeated one as the same send) and the local part of the SMTP Message-ID.
   */
  operationId: string;
  abortSignal?: AbortSignal;
}

export interface SendResult {
  /** ACS: the operation ID; SMTP: the Message-ID; file: the .eml path. */
  messageId: string;
}

export interface EmailSender {
  readonly provider: EmailProviderName;
  /**
   * True when sending again with the same operation ID cannot deliver twice (ACS, files). SMTP has no such
   * key, so a send whose outcome is unknown (the instance died mid-send) is not repeated on that path.
   */
  readonly idempotent: boolean;
  send(message: EmailMessage, options: SendOptions): Promise<SendResult>;
}

/** Why a send failed, and whether trying again may help. */
export interface SendFailure {
  transient: boolean;
  /** What the service asked to wait (Retry-After and friends), when it said. */
  retryAfterInMs: number | null;
  /** One sanitized line for the record and the logs. */
  reason: string;
}

/** The delivery was refused for good (e.g. the operation ended `Failed`). */
export class EmailSendError extends Error {
  override readonly name = 'EmailSendError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

const TRANSIENT_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'REQUEST_SEND_ERROR',
  // nodemailer's own: the connection failed, not the message.
  'ECONNECTION',
  'ESOCKET',
  'EDNS',
]);

/** The Azure core pipeline's error, recognised by name (as the SDK guidelines advise) rather than by class. */
interface RestErrorLike extends Error {
  statusCode?: number;
  code?: string;
  response?: { headers: { get(name: string): string | undefined } };
}

function isRestError(error: unknown): error is RestErrorLike {
  return error instanceof Error && error.name === 'RestError';
}

interface ErrorShape {
  code?: unknown;
  statusCode?: unknown;
  responseCode?: unknown;
  permanent?: unknown;
  message?: unknown;
  name?: unknown;
}

/** Sorts a failed send into "try again" (429, 5xx, dropped connections, SMTP 4xx) and "final". */
export function classifySendError(error: unknown, now: Date = new Date()): SendFailure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as ErrorShape;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (isRestError(error)) {
    const status = error.statusCode;
    const headers = error.response?.headers;
    const retryAfterInMs = serverDelayInMs(headers ? { get: (name) => headers.get(name) } : undefined, now);
    const transient =
      status === undefined
        ? code !== undefined && TRANSIENT_NETWORK_CODES.has(code)
        : TRANSIENT_STATUSES.has(status);
    const what = status === undefined ? (code ?? 'network error') : `HTTP ${status}${code ? ` ${code}` : ''}`;
    return { transient, retryAfterInMs, reason: sanitize(`${what}: ${message}`) };
  }
  if (typeof e.responseCode === 'number') {
    // SMTP: 4yz is transient (RFC 5321), 5yz final, except 503 (bad sequence) which a new session may pass.
    const transient =
      e.permanent === false || (e.responseCode >= 400 && e.responseCode < 500) || e.responseCode === 503;
    return { transient, retryAfterInMs: null, reason: sanitize(`SMTP ${e.responseCode}: ${message}`) };
  }
  const transient = code !== undefined && TRANSIENT_NETWORK_CODES.has(code);
  const name = typeof e.name === 'string' && e.name !== 'Error' ? `${e.name}: ` : '';
  return { transient, retryAfterInMs: null, reason: sanitize(`${name}${code ? `${code}: ` : ''}${message}`) };
}

// ---- ACS Email ----

export type AcsEmailSenderOptions = (
  | { connectionString: string; endpoint?: never; credential?: never }
  | { endpoint: string; credential: TokenCredential; connectionString?: never }
) & {
  /** Poll interval when the service sends no Retry-After; the client's default (2 s) otherwise. */
  pollIntervalInMs?: number;
  /** Pipeline retries; off by default, because notify retries 429/5xx itself with the same Operation-Id. */
  maxPipelineRetries?: number;
};

/**
 * ACS Email through the real `@azure/communication-email` client: `beginSend` with our Operation-Id, then polls
 * Operation-Location to a final state. With an endpoint, the token scope is the one the client hard-codes
 * (`https://communication.azure.com//.default`), so sovereign clouds should prefer the connection string or SMTP.
 */
export class AcsEmailSender implements EmailSender {
  readonly provider = 'acs' as const;
  readonly idempotent = true;
  private readonly client: EmailClient;
  private readonly pollIntervalInMs: number | undefined;

  constructor(options: AcsEmailSenderOptions) {
    const clientOptions = {
      retryOptions: { maxRetries: options.maxPipelineRetries ?? 0 },
      userAgentOptions: { userAgentPrefix: 'aks-fips-auditor' },
    };
    this.client =
      options.connectionString !== undefined
        ? new EmailClient(options.connectionString, clientOptions)
        : new EmailClient(options.endpoint, options.credential, clientOptions);
    this.pollIntervalInMs = options.pollIntervalInMs;
  }

  async send(message: EmailMessage, options: SendOptions): Promise<SendResult> {
    const headers = Object.fromEntries(Object.entries(message.headers).filter(([name]) => /^x-/i.test(name)));
    const body: AcsEmailMessage = {
      senderAddress: message.from,
      recipients: { to: message.to.map((address) => ({ address })) },
      content: { subject: message.subject, plainText: message.text, html: message.html },
      attachments: message.attachments.map((a) => ({
        name: a.name,
        contentType: a.contentType,
        contentInBase64: a.content.toString('base64'),
      })),
      disableUserEngagementTracking: true,
      ...(Object.keys(headers).length ? { headers } : {}),
    };
    const poller = await this.client.beginSend(body, {
      operationId: options.operationId,
      ...(this.pollIntervalInMs !== undefined ? { updateIntervalInMs: this.pollIntervalInMs } : {}),
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
    let result;
    try {
      result = await poller.pollUntilDone(options.abortSignal ? { abortSignal: options.abortSignal } : {});
    } catch (error) {
      // The poller reports a `Failed` operation as a plain Error; a refused send is final.
      if (
        !isRestError(error) &&
        error instanceof Error &&
        /long-running operation has failed/i.test(error.message)
      ) {
        throw new EmailSendError(`ACS did not deliver the message: ${error.message}`, 'Failed');
      }
      throw error;
    }
    if (result.status !== 'Succeeded') {
      throw new EmailSendError(
        `ACS ended the send ${result.status}${result.error ? `: ${result.error.code ?? ''} ${result.error.message ?? ''}` : ''}`,
        result.error?.code,
      );
    }
    return { messageId: result.id };
  }
}

// ---- SMTP ----

export interface SmtpEmailSenderOptions {
  host: string;
  port: number;
  user: string | null;
  password: string | null;
  /** A configuration problem every send fails with (e.g. SMTP_PASSWORD's Key Vault reference did not resolve). */
  problem?: string | null;
  connectionTimeoutInMs?: number;
  socketTimeoutInMs?: number;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1) || 'aks-fips-auditor.invalid';
}

/** What nodemailer builds from: only inline content, never a path or URL. */
function mailOptions(message: EmailMessage, operationId: string) {
  return {
    from: message.from,
    to: [...message.to],
    subject: message.subject,
    text: message.text,
    html: message.html,
    attachments: message.attachments.map((a) => ({
      filename: a.name,
      content: a.content,
      contentType: a.contentType,
    })),
    messageId: `<${operationId}@${domainOf(message.from)}>`,
    // RFC 3834: no out-of-office replies to a robot.
    headers: { 'Auto-Submitted': 'auto-generated', ...message.headers },
  };
}

/**
 * SMTP through nodemailer for clouds without ACS Email: STARTTLS is required (`requireTLS`) on every port but
 * 465, where TLS starts at connect; certificates are checked against the default trust store, never skipped.
 */
export class SmtpEmailSender implements EmailSender {
  readonly provider = 'smtp' as const;
  readonly idempotent = false;

  constructor(private readonly options: SmtpEmailSenderOptions) {}

  async send(message: EmailMessage, options: SendOptions): Promise<SendResult> {
    const { host, port, user, password, problem } = this.options;
    if (problem) throw new EmailSendError(problem, 'SmtpNotConfigured');
    const implicitTls = port === 465;
    const transport = createTransport({
      host,
      port,
      secure: implicitTls,
      requireTLS: !implicitTls,
      ...(user !== null && password !== null ? { auth: { user, pass: password } } : {}),
      tls: { minVersion: 'TLSv1.2', ...(isIP(host.replace(/^\[|\]$/g, '')) ? {} : { servername: host }) },
      connectionTimeout: this.options.connectionTimeoutInMs ?? 30_000,
      greetingTimeout: this.options.connectionTimeoutInMs ?? 30_000,
      socketTimeout: this.options.socketTimeoutInMs ?? 60_000,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
    try {
      const info = await transport.sendMail(mailOptions(message, options.operationId));
      return { messageId: info.messageId };
    } finally {
      transport.close();
    }
  }
}

// ---- files ----

export interface FileEmailSenderOptions {
  directory: string;
  /** File name without extension; `digest-<operationId>` by default. */
  baseName?: (operationId: string) => string;
}

/** The message as an .eml (what a mail client opens) plus its HTML part, for the demo and `email --out`. */
export async function composeEml(
  message: EmailMessage,
  operationId: string,
  date = new Date(),
): Promise<Buffer> {
  return new MailComposer({ ...mailOptions(message, operationId), date }).compile().build();
}

/** Writes `<name>.eml` and `<name>.html`; the same operation ID overwrites the same files, so a retry is harmless. */
export class FileEmailSender implements EmailSender {
  readonly provider = 'file' as const;
  readonly idempotent = true;
  /** Paths written, in order (an overwrite is listed again). */
  readonly written: { eml: string; html: string }[] = [];

  constructor(private readonly options: FileEmailSenderOptions) {}

  async send(message: EmailMessage, options: SendOptions): Promise<SendResult> {
    const name = this.options.baseName?.(options.operationId) ?? `digest-${options.operationId}`;
    await mkdir(this.options.directory, { recursive: true });
    const eml = join(this.options.directory, `${name}.eml`);
    const html = join(this.options.directory, `${name}.html`);
    await writeFile(eml, await composeEml(message, options.operationId));
    await writeFile(html, message.html);
    this.written.push({ eml, html });
    return { messageId: eml };
  }
}
