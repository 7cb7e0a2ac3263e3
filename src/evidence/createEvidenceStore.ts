// Builds the evidence store from the app's storage settings: a connection string (Azurite) or the managed identity.

import type { TokenCredential } from '@azure/core-auth';

import { type Config, requireStorage } from '../config';
import { EvidenceStore } from './EvidenceStore';

export function createEvidenceStore(config: Config, credential: () => TokenCredential): EvidenceStore {
  const storage = requireStorage(config);
  if (storage.kind === 'connectionString') {
    return new EvidenceStore({ tablePrefix: config.tablePrefix, connectionString: storage.connectionString });
  }
  return new EvidenceStore({
    tablePrefix: config.tablePrefix,
    endpoint: storage.endpoint,
    credential: credential(),
    allowInsecureConnection: storage.endpoint.startsWith('http://'),
  });
}
