// The signed-in caller that App Service Authentication hands the app in the `x-ms-client-principal` header.

import { z } from 'zod';

/** The signed-in caller: a display name for records (or null) and the app roles its token carries. */
export interface ClientPrincipal {
  name: string | null;
  roles: string[];
}

const MAX_NAME_LENGTH = 256;

const CLAIM_TYPES = {
  roles: ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'],
  name: [
    'name',
    'preferred_username',
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
    'upn',
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn',
    'email',
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  ],
  // App-only callers (client credentials) have no name; their application ID identifies them.
  app: ['appid', 'azp'],
};

const principalSchema = z.object({
  claims: z.array(z.object({ typ: z.string(), val: z.string() })),
  name_typ: z.string().optional(),
  role_typ: z.string().optional(),
});

/**
 * Decodes `x-ms-client-principal` (base64 JSON: `claims` as `{typ, val}`, plus `name_typ` and `role_typ`
 * naming the claim types of the name and the roles). Null when absent or not a principal. Only call this
 * when App Service Authentication is on: then the platform sets the header and strips any a client sent;
 * when it is off, anyone can send it.
 */
export function parseClientPrincipal(header: string | null): ClientPrincipal | null {
  if (header === null || header.trim() === '') return null;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(header.trim(), 'base64').toString('utf8'));
  } catch {
    return null;
  }
  const parsed = principalSchema.safeParse(decoded);
  if (!parsed.success) return null;
  const { claims, name_typ: nameType, role_typ: roleType } = parsed.data;
  const roleTypes = new Set([...CLAIM_TYPES.roles, ...(roleType ? [roleType] : [])]);
  const roles = claims.filter((c) => roleTypes.has(c.typ)).map((c) => c.val);
  const valueOf = (types: string[]) =>
    types
      .map((t) => claims.find((c) => c.typ === t && c.val.trim() !== '')?.val)
      .find((v) => v !== undefined);
  const person = valueOf([...(nameType ? [nameType] : []), ...CLAIM_TYPES.name]);
  const app = valueOf(CLAIM_TYPES.app);
  const name = person ?? (app !== undefined ? `app:${app}` : null);
  // A name goes into history and emails: no control characters, bounded length.
  // eslint-disable-next-line no-control-regex
  const clean = name?.replace(/[\u0000-\u001F\u007F]/g, '').slice(0, MAX_NAME_LENGTH) || null;
  return { name: clean, roles };
}
