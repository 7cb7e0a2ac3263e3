// Self-signed certificates for the HTTPS emulators, and trusting them in this process without disabling TLS checks.

import { randomUUID } from 'node:crypto';
import tls from 'node:tls';

import { generate } from 'selfsigned';

const validityInMs = 7 * 24 * 60 * 60 * 1000;
const clockSkewInMs = 5 * 60 * 1000;

/** PEMs this process has added to its default trust store, kept so each call adds rather than replaces. */
const trustedExtras = new Set<string>();

/**
 * A self-signed certificate for `localhost` and `127.0.0.1`, marked as a CA so it can be a trust anchor
 * (through `trustCertificate` here, or `NODE_EXTRA_CA_CERTS` for a child process). Each certificate gets a unique
 * subject: OpenSSL finds trust anchors by subject name, so two trusted `CN=localhost` certificates would shadow
 * each other and the second emulator would fail with "self-signed certificate".
 */
export async function createTestCertificate(): Promise<{ cert: string; key: string }> {
  const now = Date.now();
  const subject = [
    { name: 'commonName', value: 'localhost' },
    { name: 'organizationName', value: 'aks-fips-auditor test emulator' },
    { shortName: 'OU', value: randomUUID() },
  ];
  const pems = await generate(subject, {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - clockSkewInMs),
    notAfterDate: new Date(now + validityInMs),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/**
 * Adds a PEM certificate to this process's default CA list (what every TLS client uses when it passes no `ca`),
 * keeping the bundled/system roots and every certificate added before, so several emulators can each add theirs.
 */
export function trustCertificate(pem: string): void {
  const normalised = pem.trim() + '\n';
  if (trustedExtras.has(normalised)) return;
  trustedExtras.add(normalised);
  const current = tls.getCACertificates('default');
  const merged = new Set<string>([...current, ...trustedExtras]);
  tls.setDefaultCACertificates([...merged]);
}
