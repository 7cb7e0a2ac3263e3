// Structural checks of infra/ against the code: settings, roles, functions, hardening and the Node version.
// No Bicep compiler can run here, so the Bicep is read with a small scanner (strings, comments, brackets)
// and checked for what a reviewer would otherwise check by eye. Each check names what it found.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { SETTINGS } from '../../src/config';
import { API_ROUTES, type ApiRoute, APP_ROLES } from '../../src/http/routes';
import {
  callArguments,
  type Declaration,
  declarations,
  firstString,
  KEY_MATERIAL_PATTERNS,
  maskStrings,
  nested,
  objectEntries,
  objectKeysInExpression,
  resourceBody,
  stripComments,
} from '../support/bicepScanner';

const root = join(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

// ------------------------------------------------------------------------------------------------ allow-lists

/**
 * The only roles the auditor identity may hold. Each ID was checked against the Azure built-in roles reference
 * (infra/README.md#roles says where). Adding a role here is a security decision: say why in that README.
 */
const ALLOWED_ROLES: Readonly<Record<string, string>> = {
  'acdd72a7-3385-48ef-bd42-f606fba81ae7': 'Reader',
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
  '09976791-48a7-449e-bb21-39d1a415f350': 'Communication and Email Service Owner',
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  // On the storage account: the audit pipeline queue (infra/README.md#roles).
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  // Only on the evidence signing key, and only with enableEvidenceSigning.
  '12338af0-0e69-4776-bea7-57ae8d297424': 'Key Vault Crypto User',
  // Only on the evidence WORM container, and only with enableEvidenceRetention.
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': 'Storage Blob Data Contributor',
};

/** Roles that must never appear in infra/, whatever the allow-list says. */
const FORBIDDEN_ROLES: Readonly<Record<string, string>> = {
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': 'User Access Administrator',
  'f58310d9-a9f6-439a-9e8d-f62e7b41a168': 'Role Based Access Control Administrator',
  '17d1049b-9a84-46fb-8f53-869881c3d3ab': 'Storage Account Contributor',
  '81a9662b-bebf-436f-a333-f67b29880f12': 'Storage Account Key Operator Service Role',
};

/** Settings the Functions platform reads, not the app: the Bicep may set them although src/config.ts does not. */
const isPlatformSetting = (name: string): boolean =>
  /^(FUNCTIONS_|AzureWebJobs|APPLICATIONINSIGHTS_|WEBSITE_|languageWorkers__)/.test(name);

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(suffix))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort();
}

interface BicepFile {
  path: string;
  source: string;
  code: string;
  declarations: Declaration[];
}

const bicepFiles: BicepFile[] = filesUnder('infra', '.bicep').map((path) => {
  const source = read(path);
  return { path, source, code: stripComments(source), declarations: declarations(source) };
});
const bicep = (path: string): BicepFile => {
  const file = bicepFiles.find((f) => f.path === path);
  if (!file) throw new Error(`${path} is missing`);
  return file;
};

/**
 * Every `resource` declaration of a type (any API version), with its file; nested child resources are not
 * included, and `existing` references only when asked for.
 */
function resourcesOfType(
  type: string,
  { withExisting = false } = {},
): { file: BicepFile; declaration: Declaration }[] {
  return bicepFiles.flatMap((file) =>
    file.declarations
      .filter((d) => d.keyword === 'resource' && new RegExp(`^resource\\s+\\w+\\s+'${type}@`).test(d.text))
      .filter((d) => withExisting || !/^resource\s+\w+\s+'[^']+'\s+existing\b/.test(d.text))
      .map((declaration) => ({ file, declaration })),
  );
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

// ------------------------------------------------------------------------------------------------ the scanner itself

describe('the Bicep scanner used by these checks', () => {
  it('reads declarations, decorators and object keys the way Bicep does', () => {
    const sample = [
      "// a comment with 'quotes' and { braces",
      "@description('Optional. A value; with a colon: here.')",
      '@allowed([',
      "  'a'",
      "  'b'",
      '])',
      "param p string = 'a'",
      '',
      'var settings = cond',
      "  ? { A_ONE: 'x', 'B-TWO': 'y' }",
      '  : {',
      "      C_THREE: 'https://example.com/x?y=1' // not a key: z",
      '      D_FOUR: union({ NESTED: 1 }, {})',
      '    }',
      "resource r 'Microsoft.Authorization/roleAssignments@2022-04-01' = [",
      '  for a in list: {',
      '    name: guid(s.id, principalId, a.role)',
      '  }',
      ']',
    ].join('\n');
    const decls = declarations(sample);
    expect(decls.map((d) => `${d.keyword} ${d.name}`)).toEqual(['param p', 'var settings', 'resource r']);
    expect(decls[0]!.decorators).toHaveLength(2);
    expect(firstString(decls[0]!.decorators[0]!)).toBe('Optional. A value; with a colon: here.');
    const settingsExpression = decls[1]!.text.slice(decls[1]!.text.indexOf('=') + 1);
    expect(objectKeysInExpression(settingsExpression)).toEqual(['A_ONE', 'B-TWO', 'C_THREE', 'D_FOUR']);
    const body = resourceBody(decls[2]!);
    expect(callArguments(body.get('name')!)).toEqual(['s.id', 'principalId', 'a.role']);
  });
});

// ------------------------------------------------------------------------------------------------ (1) settings

/** App settings the Bicep sets: keys of every `var <x>AppSettings` object, in main.bicep and the Function App module. */
function bicepAppSettings(): Map<string, string> {
  const found = new Map<string, string>();
  for (const path of ['infra/main.bicep', 'infra/modules/functionApp.bicep']) {
    const file = bicep(path);
    const vars = file.declarations.filter((d) => d.keyword === 'var' && /AppSettings$/.test(d.name));
    expect(vars.length).toBeGreaterThan(0);
    for (const v of vars) {
      // A settings object nobody uses would count as "set" without being set.
      const uses = file.code.match(new RegExp(`\\b${v.name}\\b`, 'g')) ?? [];
      if (uses.length < 2) throw new Error(`${path}: var ${v.name} is never used`);
      for (const key of objectKeysInExpression(v.text.slice(v.text.indexOf('=') + 1))) found.set(key, path);
    }
  }
  return found;
}

describe('settings: src/config.ts SETTINGS, the Bicep app settings and local.settings.sample.json agree', () => {
  const appSettingNames = Object.keys(SETTINGS);
  const inBicep = bicepAppSettings();
  const optional = (JSON.parse(read('infra/settings.optional.json')) as { settings: Record<string, string> })
    .settings;
  const sample = (JSON.parse(read('local.settings.sample.json')) as { Values: Record<string, string> })
    .Values;

  it('finds the settings the app reads and the ones the Bicep sets', () => {
    expect(appSettingNames.length).toBeGreaterThan(10);
    expect(inBicep.size).toBeGreaterThan(10);
  });

  it('sets every setting the app reads in the Bicep, or documents why not in infra/settings.optional.json', () => {
    const neither = appSettingNames.filter((name) => !inBicep.has(name) && !(name in optional));
    expect(neither).toEqual([]);
  });

  it('never both sets a setting and documents it as left unset', () => {
    expect(Object.keys(optional).filter((name) => inBicep.has(name))).toEqual([]);
  });

  it('documents only settings the app reads, each with a reason', () => {
    expect(Object.keys(optional).filter((name) => !appSettingNames.includes(name))).toEqual([]);
    const unexplained = Object.entries(optional).filter(([, reason]) => reason.trim().length < 20);
    expect(unexplained).toEqual([]);
  });

  it('sets nothing the code never reads, apart from Functions platform and host settings', () => {
    const unread = [...inBicep.keys()].filter(
      (name) => !appSettingNames.includes(name) && !isPlatformSetting(name),
    );
    expect(unread).toEqual([]);
  });

  it('never sets a connection string or a key from the Bicep (identity only)', () => {
    const keyed = [...inBicep.keys()].filter(
      (name) =>
        /CONNECTION_STRING|_KEY$|ACCOUNT_KEY|SAS/i.test(name) &&
        name !== 'APPLICATIONINSIGHTS_CONNECTION_STRING',
    );
    expect(keyed).toEqual([]);
    expect(optional).toHaveProperty('AUDIT_TABLES_CONNECTION_STRING');
    expect(optional).toHaveProperty('EMAIL_CONNECTION_STRING');
  });

  it('lists every setting the app reads in local.settings.sample.json', () => {
    expect(appSettingNames.filter((name) => !(name in sample))).toEqual([]);
  });

  it('lists nothing in local.settings.sample.json that neither the app nor the Functions host reads', () => {
    expect(
      Object.keys(sample).filter((name) => !appSettingNames.includes(name) && !isPlatformSetting(name)),
    ).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------ (1b) sharding

/** The entries of a `var` object of main.bicep. */
function mainVar(name: string): Map<string, string> {
  const declaration = bicep('infra/main.bicep').declarations.find(
    (d) => d.keyword === 'var' && d.name === name,
  );
  if (!declaration) throw new Error(`infra/main.bicep: var ${name} is missing`);
  return objectEntries(declaration.text, maskStrings(declaration.text).indexOf('{'));
}

function mainParam(name: string): Declaration {
  const declaration = bicep('infra/main.bicep').declarations.find(
    (d) => d.keyword === 'param' && d.name === name,
  );
  if (!declaration) throw new Error(`infra/main.bicep: param ${name} is missing`);
  return declaration;
}

/** The arguments a module declaration of main.bicep passes (its `params` object). */
function moduleParams(name: string): Map<string, string> {
  const declaration = bicep('infra/main.bicep').declarations.find(
    (d) => d.keyword === 'module' && d.name === name,
  );
  if (!declaration) throw new Error(`infra/main.bicep: module ${name} is missing`);
  return nested(resourceBody(declaration), 'params');
}

describe('the pipeline queue: its connection by identity, the shard size, the queue role', () => {
  const infraReadme = read('infra/README.md');

  // Functions identity-based connections use the system-assigned identity unless <CONNECTION>__credential is
  // managedidentity and <CONNECTION>__clientId names the user-assigned one; this app has only a user-assigned one.
  it('gives the AUDIT_QUEUE connection the app identity: queue URI, credential managedidentity, its client ID', () => {
    const queue = mainVar('pipelineQueueAppSettings');
    expect(queue.get('AUDIT_QUEUE__queueServiceUri')).toBe('storage.outputs.QUEUE_ENDPOINT');
    expect(queue.get('AUDIT_QUEUE__credential')).toBe("'managedidentity'");
    expect(queue.get('AUDIT_QUEUE__clientId')).toBe('identity.outputs.clientId');
    // The same identity the app runs as (AZURE_CLIENT_ID), and the code reads all three settings.
    expect(mainVar('auditAppSettings').get('AZURE_CLIENT_ID')).toBe('identity.outputs.clientId');
    for (const name of ['AUDIT_QUEUE__queueServiceUri', 'AUDIT_QUEUE__credential', 'AUDIT_QUEUE__clientId'])
      expect(Object.keys(SETTINGS)).toContain(name);
  });

  // Every audit runs through the queue: the app refuses to start in Functions without it (requireQueue).
  it('always sets the queue connection, and never as a connection string', () => {
    const appSettings =
      nested(
        resourceBody(bicep('infra/main.bicep').declarations.find((d) => d.name === 'functionApp')!),
        'params',
      ).get('appSettings') ?? '';
    expect(appSettings).toMatch(/^\s*pipelineQueueAppSettings$/m);
    expect(bicepAppSettings().has('AUDIT_QUEUE')).toBe(false);
    expect(read('src/functions/functionsApp.ts')).toMatch(/requireQueue\(config\)/);
  });

  it('takes AUDIT_SHARDING from a parameter allowing exactly the modes the app accepts', () => {
    const param = mainParam('auditSharding');
    expect(param.decorators).toContain("@allowed(['off', 'subscriptions'])");
    expect(param.text).toMatch(/^param auditSharding string = 'off'$/m);
    expect(mainVar('auditAppSettings').get('AUDIT_SHARDING')).toBe('auditSharding');
  });

  it('takes AUDIT_SHARD_SIZE from a parameter with the bounds and default of src/config.ts', () => {
    const param = mainParam('auditShardSize');
    expect(param.decorators).toEqual(expect.arrayContaining(['@minValue(1)', '@maxValue(800)']));
    expect(param.text).toMatch(new RegExp(`^param auditShardSize int = ${SETTINGS.AUDIT_SHARD_SIZE}$`, 'm'));
    expect(mainVar('auditAppSettings').get('AUDIT_SHARD_SIZE')).toBe('string(auditShardSize)');
  });

  it('grants Storage Queue Data Contributor on the storage account', () => {
    const rbac = bicep('infra/modules/rbac.bicep');
    const assignments = rbac.declarations.find((d) => d.name === 'assignments')!.text;
    expect(assignments).toMatch(/target: 'storageQueue'\s+role: builtInRoles\.storageQueueDataContributor/);
    expect(rbac.declarations.find((d) => d.name === 'enabledTargets')?.text).toMatch(/storageQueue: true/);
    const storageLoop = rbac.declarations.find((d) => d.name === 'storageAssignments')!.text;
    expect(storageLoop).toContain("x.target == 'storageQueue'");
    expect(storageLoop).toMatch(/scope: storage$/m);
  });

  it('reaches the queue privately when storage is private', () => {
    expect(bicep('infra/modules/network.bicep').code).toMatch(
      /^var storageServices = \['blob', 'table', 'queue'\]$/m,
    );
  });

  it('documents the sharding parameters, settings and identity in infra/README.md', () => {
    for (const text of [
      '`auditSharding`',
      '`auditShardSize`',
      'AUDIT_SHARD_SIZE',
      'AUDIT_QUEUE__credential=managedidentity',
      'AUDIT_QUEUE__clientId',
      'Storage Queue Data Contributor',
    ])
      expect(infraReadme).toContain(text);
  });
});

// ------------------------------------------------------------------------------------------------ (1c) egress

describe('private networking: the app has an explicit way out to Azure Resource Graph, ARM and ACS', () => {
  const network = bicep('infra/modules/network.bicep');
  const infraReadme = read('infra/README.md');

  it('puts a NAT gateway with a static Standard public IP on the app subnet unless a route of your own is chosen', () => {
    const param = mainParam('privateNetworkEgress');
    expect(param.decorators).toContain("@allowed(['natGateway', 'none'])");
    expect(param.text).toMatch(/^param privateNetworkEgress string = 'natGateway'$/m);
    expect(moduleParams('network').get('natGateway')).toBe("privateNetworkEgress == 'natGateway'");
    const [nat] = resourcesOfType('Microsoft.Network/natGateways');
    expect(nat?.file.path).toBe('infra/modules/network.bicep');
    expect(nat!.declaration.text).toMatch(/= if \(natGateway\)/);
    const [ip] = resourcesOfType('Microsoft.Network/publicIPAddresses');
    const ipBody = resourceBody(ip!.declaration);
    expect(nested(ipBody, 'sku').get('name')).toBe("'Standard'");
    expect(nested(ipBody, 'properties').get('publicIPAllocationMethod')).toBe("'Static'");
    expect(network.code).toMatch(/natGateway: natGateway \? \{ id: nat\.id \} : null/);
  });

  it("routes all of the app's traffic into the VNet and leaves the subnets no implicit way out", () => {
    expect(bicep('infra/modules/functionApp.bicep').code).toMatch(
      /vnetRouteAllEnabled: empty\(subnetId\) \? null : true/,
    );
    expect(network.code.match(/defaultOutboundAccess: false/g)).toHaveLength(2);
  });

  it('lists, for a firewall of your own, every destination the app calls, with service tags and FQDNs', () => {
    const section = infraReadme.slice(infraReadme.indexOf('### Outbound traffic with private networking'));
    expect(section.length).toBeGreaterThan(100);
    for (const text of [
      'AzureResourceManager',
      'AzureActiveDirectory',
      'AzureMonitor',
      '.communication.azure.com',
      'management.azure.com',
      'management.usgovcloudapi.net',
      'privateNetworkEgress=none',
    ])
      expect(section).toContain(text);
  });
});

// ------------------------------------------------------------------------------------------------ (2) roles

describe('roles: every role assignment uses an allowed built-in role', () => {
  const rolesFile = bicep('infra/modules/roles.bicep');
  const rolesDeclaration = rolesFile.declarations.find(
    (d) => d.keyword === 'var' && d.name === 'builtInRoles',
  );
  const roleIds = new Map<string, string>();
  if (rolesDeclaration) {
    const text = rolesDeclaration.text;
    for (const [key, value] of objectEntries(text, maskStrings(text).indexOf('{'))) {
      roleIds.set(key, firstString(value) ?? value);
    }
  }
  const assignments = resourcesOfType('Microsoft.Authorization/roleAssignments');

  it('keeps every role ID in one exported list, infra/modules/roles.bicep, and each is on the allow-list', () => {
    expect(rolesDeclaration?.decorators.some((d) => d.startsWith('@export()'))).toBe(true);
    expect(roleIds.size).toBeGreaterThan(0);
    const notAllowed = [...roleIds.entries()].filter(([, id]) => !(id.toLowerCase() in ALLOWED_ROLES));
    expect(notAllowed).toEqual([]);
  });

  it('has no GUID anywhere else in infra/ (Bicep, parameters, JSON), so no role can hide outside the list', () => {
    const files = [...filesUnder('infra', '.bicep'), ...filesUnder('infra', '.json')].filter(
      (path) => path !== 'infra/modules/roles.bicep',
    );
    const stray = files.flatMap((path) => (read(path).match(GUID) ?? []).map((guid) => `${path}: ${guid}`));
    expect(stray).toEqual([]);
  });

  it('never mentions Owner, Contributor, User Access Administrator or other broader roles, by ID', () => {
    const everything = [...filesUnder('infra', '.bicep'), ...filesUnder('infra', '.json')]
      .map(read)
      .join('\n');
    const found = (everything.match(GUID) ?? []).filter((g) => g.toLowerCase() in FORBIDDEN_ROLES);
    expect(found).toEqual([]);
  });

  it('defines no custom role (it would bypass the allow-list)', () => {
    expect(resourcesOfType('Microsoft.Authorization/roleDefinitions')).toEqual([]);
  });

  it('declares role assignments only in rbac.bicep and the two Reader modules', () => {
    expect(assignments.length).toBeGreaterThan(0);
    const places = [...new Set(assignments.map((a) => a.file.path))].sort();
    expect(places).toEqual([
      'infra/modules/rbac.bicep',
      'infra/modules/readerAtManagementGroup.bicep',
      'infra/modules/readerAtSubscription.bicep',
    ]);
  });

  it.each(assignments.map((a) => [`${a.file.path} ${a.declaration.name}`, a] as const))(
    'builds %s from the list: guid(scope, principalId, role) name, principalType and an allowed role',
    (_title, { file, declaration }) => {
      const body = resourceBody(declaration);
      const properties = nested(body, 'properties');
      expect(properties.get('principalType')).toBe("'ServicePrincipal'");
      expect(properties.get('principalId')).toBe('principalId');

      const roleDefinitionId = properties.get('roleDefinitionId') ?? '';
      const call = /^(subscriptionResourceId|tenantResourceId)\(/.exec(roleDefinitionId);
      expect(call).not.toBeNull();
      const [resourceType, roleExpression] = callArguments(roleDefinitionId);
      expect(resourceType).toBe("'Microsoft.Authorization/roleDefinitions'");

      const nameArguments = callArguments(body.get('name') ?? '');
      expect(body.get('name')).toMatch(/^guid\(/);
      expect(nameArguments).toHaveLength(3);
      expect(nameArguments[1]).toBe('principalId');
      expect(nameArguments[2]).toBe(roleExpression);

      // The role is either builtInRoles.<key>, or <item>.role of a loop over the one assignment list in rbac.bicep.
      const direct = /^builtInRoles\.(\w+)$/.exec(roleExpression ?? '');
      const fromList = /^(\w+)\.role$/.exec(roleExpression ?? '');
      if (direct) {
        expect(roleIds.has(direct[1]!)).toBe(true);
      } else {
        expect(fromList).not.toBeNull();
        expect(file.path).toBe('infra/modules/rbac.bicep');
        expect(declaration.text).toMatch(new RegExp(`\\[\\s*for ${fromList![1]} in filter\\(active,`));
      }
    },
  );

  it('generates the resource-group assignments from one list whose roles all come from builtInRoles', () => {
    const rbac = bicep('infra/modules/rbac.bicep');
    const lists = rbac.declarations.filter((d) => d.keyword === 'var' && /\brole\s*:/.test(d.text));
    expect(lists.map((d) => d.name)).toEqual(['assignments']);
    const roles = [...lists[0]!.text.matchAll(/\brole\s*:\s*([^\n]+)/g)].map((m) => m[1]!.trim());
    expect(roles.length).toBeGreaterThan(0);
    expect(roles.filter((r) => !/^builtInRoles\.\w+$/.test(r) || !roleIds.has(r.split('.')[1]!))).toEqual([]);
    expect(rbac.declarations.find((d) => d.name === 'active')?.text).toMatch(/filter\(assignments,/);
  });

  it('documents every role in infra/README.md with its ID', () => {
    const readme = read('infra/README.md');
    const missing = [...roleIds.values()].filter(
      (id) => !readme.includes(id) || !readme.includes(ALLOWED_ROLES[id.toLowerCase()] ?? '\u0000'),
    );
    expect(missing).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------ (3) functions

interface FunctionRegistration {
  file: string;
  trigger: string;
  name: string;
  options: string;
}

/**
 * The functions src/functions/*.ts registers, read as text (importing them would register them).
 * `app.<trigger>('<name>', { ... })` is read directly. A registration whose name is not a literal must come
 * from the route table in src/http/routes.ts (`API_ROUTES`, plain data, safe to import); anything else
 * throws, so a registration the test cannot see fails it instead of passing unchecked.
 */
function functionRegistrations(): FunctionRegistration[] {
  return filesUnder('src/functions', '.ts').flatMap((file) => {
    const source = read(file)
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    return [...source.matchAll(/\bapp\.(\w+)\(\s*/g)].flatMap((match): FunctionRegistration[] => {
      // app.setup configures the worker (HTTP streams); it registers no function.
      if (match[1] === 'setup') return [];
      const after = source.slice(match.index + match[0].length);
      const literal = /^(['"`])([^'"`]+)\1\s*,\s*\{/.exec(after);
      if (literal) {
        const open = match.index + match[0].length + literal[0].length - 1;
        const options = source.slice(open, matchingTsBrace(source, open) + 1);
        return [{ file, trigger: match[1]!, name: literal[2]!, options }];
      }
      if (match[1] === 'http' && /\bAPI_ROUTES\b/.test(source)) return routeTableRegistrations(file, source);
      throw new Error(
        `${file}: cannot tell which function app.${match[1]}(${after.slice(0, 40)}…) registers`,
      );
    });
  });
}

/**
 * HTTP functions registered from the route table: the entries the file names (`API_ROUTES.report`), or all
 * of them when it walks the whole table.
 */
function routeTableRegistrations(file: string, source: string): FunctionRegistration[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { API_ROUTES } = require('../../src/http/routes') as {
    API_ROUTES: Record<string, { name: string; route: string; authLevel: string }>;
  };
  const named = [...source.matchAll(/\bAPI_ROUTES\.(\w+)/g)].map((m) => m[1]!);
  const keys = named.length > 0 ? [...new Set(named)] : Object.keys(API_ROUTES);
  return keys.map((key) => {
    const entry = API_ROUTES[key];
    if (!entry) throw new Error(`${file}: API_ROUTES.${key} is not in src/http/routes.ts`);
    return {
      file,
      trigger: 'http',
      name: entry.name,
      options: `{ route: '${entry.route}', authLevel: '${entry.authLevel}' }`,
    };
  });
}

/** Index of the `}` closing the `{` at `open` in TypeScript, skipping strings and template literals. */
function matchingTsBrace(source: string, open: number): number {
  let depth = 0;
  for (let i = open; i < source.length; i += 1) {
    const ch = source[i]!;
    if (ch === "'" || ch === '"' || ch === '`') {
      for (i += 1; i < source.length && source[i] !== ch; i += source[i] === '\\' ? 2 : 1);
      continue;
    }
    if (ch === '{') depth += 1;
    else if (ch === '}' && --depth === 0) return i;
  }
  throw new Error('unbalanced braces in a function registration');
}

const tsProperty = (options: string, key: string): string | undefined =>
  new RegExp(`\\b${key}\\s*:\\s*('[^']*'|"[^"]*"|\`[^\`]*\`|[^,\\n}]+)`).exec(options)?.[1]?.trim();

describe('functions: names, routes and the schedule in src/functions match the READMEs and the infra', () => {
  const registrations = [
    ...new Map(functionRegistrations().map((r) => [`${r.trigger} ${r.name}`, r])).values(),
  ];
  const readme = read('README.md');
  const infraReadme = read('infra/README.md');
  const http = registrations
    .filter((r) => r.trigger === 'http')
    .map((r) => {
      const route = tsProperty(r.options, 'route')?.replace(/^['"`]|['"`]$/g, '') ?? r.name;
      const authLevel = tsProperty(r.options, 'authLevel')?.replace(/^['"`]|['"`]$/g, '') ?? 'anonymous';
      return { ...r, path: `/api/${route}`, authLevel };
    });

  it('finds the registered functions', () => {
    expect(registrations.length).toBeGreaterThan(0);
    expect(registrations.map((r) => r.name)).toContain('auditTimer');
  });

  it.each(registrations.map((r) => [r.name, r] as const))(
    'names %s in README.md and infra/README.md',
    (name) => {
      expect(readme).toContain(`\`${name}\``);
      expect(infraReadme).toContain(`\`${name}\``);
    },
  );

  it('runs every timer on AUDIT_SCHEDULE, which the config reads, the Bicep sets and both READMEs name', () => {
    const timers = registrations.filter((r) => r.trigger === 'timer');
    expect(timers.length).toBeGreaterThan(0);
    const config = read('src/config.ts');
    const configDefault = /const schedule = get\('AUDIT_SCHEDULE'\) \?\? '([^']+)'/.exec(config)?.[1];
    expect(configDefault).toBeDefined();
    for (const timer of timers) {
      const schedule = tsProperty(timer.options, 'schedule') ?? '';
      // Either the binding expression of the setting, or the validated config value read from it.
      expect(schedule === "'%AUDIT_SCHEDULE%'" || /\bconfig\.schedule$/.test(schedule)).toBe(true);
    }
    expect(bicepAppSettings().get('AUDIT_SCHEDULE')).toBe('infra/main.bicep');
    const bicepDefault = /^param auditSchedule string = '([^']+)'/m.exec(bicep('infra/main.bicep').code)?.[1];
    expect(bicepDefault).toBe(configDefault);
    for (const text of [readme, infraReadme]) expect(text).toMatch(/`auditTimer`[^\n]*`AUDIT_SCHEDULE`/);
  });

  it('lists every HTTP route in README.md and infra/README.md', () => {
    // Until HTTP functions are registered there is nothing to list; each one added must be documented in both.
    const undocumented = http.filter((r) => !readme.includes(r.path) || !infraReadme.includes(r.path));
    expect(undocumented.map((r) => `${r.file}: ${r.name} ${r.path}`)).toEqual([]);
  });

  it('keeps every anonymous route reachable through App Service Authentication, and nothing else', () => {
    const functionApp = bicep('infra/modules/functionApp.bicep');
    const param = functionApp.declarations.find(
      (d) => d.keyword === 'param' && d.name === 'authExcludedPaths',
    );
    const excluded = [...(param?.text.match(/'[^']*'/g) ?? [])].map((s) => s.slice(1, -1));
    expect(excluded.length).toBeGreaterThan(0);
    for (const route of http) {
      if (route.authLevel === 'anonymous') expect(excluded).toContain(route.path);
      else expect(excluded).not.toContain(route.path);
    }
  });
});

// ------------------------------------------------------------------------------------------------ (3b) sign-in, app roles

describe('authentication: App Service Authentication and the app roles the code checks are documented', () => {
  const infraReadme = read('infra/README.md');
  const topReadme = read('README.md');

  /** App roles the route table requires (src/http/routes.ts), which src/http/authorize.ts checks. */
  const appRoles = [
    ...new Set(Object.values(API_ROUTES).flatMap((route: ApiRoute) => Object.values(route.roles))),
  ];

  /** The role JSON of infra/README.md: the heredoc `cat > …app-roles.json <<'JSON' … JSON`. */
  const roleJson = /cat > [\w.-]*app-roles\.json <<'JSON'\n([\s\S]*?)\nJSON\n/.exec(infraReadme)?.[1];

  interface AppRole {
    id?: unknown;
    value?: unknown;
    allowedMemberTypes?: unknown;
    isEnabled?: unknown;
  }
  const definedRoles = (): AppRole[] => {
    const parsed: unknown = JSON.parse(roleJson ?? '[]');
    expect(Array.isArray(parsed)).toBe(true);
    return parsed as AppRole[];
  };

  it('requires sign-in on every route (reads included) with a 401, excluding only authExcludedPaths', () => {
    const configs = resourcesOfType('Microsoft.Web/sites/config')
      .map((c) => resourceBody(c.declaration))
      .filter((body) => body.get('name') === "'authsettingsV2'");
    expect(configs).toHaveLength(1);
    const globalValidation = nested(nested(configs[0]!, 'properties'), 'globalValidation');
    expect(globalValidation.get('requireAuthentication')).toBe('true');
    expect(globalValidation.get('unauthenticatedClientAction')).toBe("'Return401'");
    expect(globalValidation.get('excludedPaths')).toBe('authExcludedPaths');
    // infra/README.md says so, and that reads need sign-in too.
    expect(infraReadme).toContain('requireAuthentication: true');
    expect(infraReadme).toMatch(/reads included/);
    expect(infraReadme).toContain("excludedPaths: ['/api/health']");
  });

  it('names every app role of the route table (src/http/routes.ts) in infra/README.md', () => {
    expect([...appRoles].sort()).toEqual(Object.values(APP_ROLES).sort());
    expect(appRoles.filter((role) => !infraReadme.includes(`\`${role}\``))).toEqual([]);
  });

  it.each(Object.values(API_ROUTES).map((route: ApiRoute) => [route.name, route] as const))(
    'puts the roles of the %s route in its rows of infra/README.md and of the README',
    (name, route) => {
      for (const text of [infraReadme, topReadme]) {
        const rows = text.split('\n').filter((line) => line.startsWith(`| \`${name}\` `));
        expect(rows.length).toBeGreaterThan(0);
        const roles = [...new Set(Object.values(route.roles))];
        for (const row of rows) expect(roles.filter((role) => !row.includes(`\`${role}\``))).toEqual([]);
      }
    },
  );

  it('defines each role in the README role JSON: User and Application, enabled, a fixed GUID id', () => {
    expect(appRoles.length === 0 || roleJson !== undefined).toBe(true);
    const roles = definedRoles();
    const problems = appRoles.flatMap((value) => {
      const matches = roles.filter((r) => r.value === value);
      if (matches.length !== 1) return [`${value}: defined ${matches.length} times`];
      const role = matches[0]!;
      const id = typeof role.id === 'string' ? role.id : '';
      const members = Array.isArray(role.allowedMemberTypes)
        ? [...(role.allowedMemberTypes as unknown[])]
        : [];
      return [
        ...(new RegExp(`^${GUID.source}$`, 'i').test(id) ? [] : [`${value}: id ${JSON.stringify(role.id)}`]),
        ...(id.toLowerCase() in ALLOWED_ROLES || id.toLowerCase() in FORBIDDEN_ROLES
          ? [`${value}: id is an Azure role ID`]
          : []),
        ...(JSON.stringify(members.sort()) === '["Application","User"]'
          ? []
          : [`${value}: allowedMemberTypes ${JSON.stringify(members)}`]),
        ...(role.isEnabled === true ? [] : [`${value}: isEnabled ${JSON.stringify(role.isEnabled)}`]),
      ];
    });
    expect(problems).toEqual([]);
    const ids = roles.map((r) => String(r.id).toLowerCase());
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('assigns the role by the id the role JSON gives it', () => {
    const roleIds = [...infraReadme.matchAll(/\bROLE_ID=(\S+)/g)].map((m) => m[1]!.toLowerCase());
    expect(appRoles.length === 0 || roleIds.length > 0).toBe(true);
    const defined = new Set(definedRoles().map((r) => String(r.id).toLowerCase()));
    expect(roleIds.filter((id) => !defined.has(id))).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------ (4) parameters

describe('parameters: every Bicep param says whether it is required', () => {
  const params = bicepFiles.flatMap((file) =>
    file.declarations.filter((d) => d.keyword === 'param').map((d) => ({ file: file.path, declaration: d })),
  );

  it('finds the parameters', () => {
    expect(params.length).toBeGreaterThan(30);
  });

  it.each(params.map((p) => [`${p.file} ${p.declaration.name}`, p] as const))(
    '%s has a @description starting "Required." (no default) or "Optional." (a default)',
    (_title, { declaration }) => {
      const description = declaration.decorators.find((d) => d.startsWith('@description('));
      expect(description).toBeDefined();
      const text = firstString(description!) ?? '';
      expect(text).toMatch(/^(Required|Optional)\. \S/);
      const header = maskStrings(declaration.text).split('\n')[0]!;
      const hasDefault = /^param\s+\w+\s+[^=]+=/.test(header) || /\?\s*$/.test(header);
      expect(hasDefault).toBe(text.startsWith('Optional.'));
    },
  );
});

describe('main.parameters.json: the parameters azd passes exist in main.bicep', () => {
  const main = bicep('infra/main.bicep');
  const declared = new Map(main.declarations.filter((d) => d.keyword === 'param').map((d) => [d.name, d]));
  const given = Object.keys(
    (JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, unknown> }).parameters,
  );

  it('passes only parameters main.bicep declares', () => {
    expect(given.filter((name) => !declared.has(name))).toEqual([]);
  });

  it('passes every required parameter of main.bicep', () => {
    const required = [...declared.values()]
      .filter((d) => d.decorators.some((dec) => /^@description\('Required\./.test(dec)))
      .map((d) => d.name);
    expect(required.length).toBeGreaterThan(0);
    expect(required.filter((name) => !given.includes(name))).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------ (5) no keys, hardened storage

describe('hardening: no keys in the Bicep and the storage account locked to Entra ID', () => {
  it.each(bicepFiles.map((f) => [f.path, f] as const))(
    '%s reads and builds no key or key-based connection string',
    (_path, file) => {
      expect(KEY_MATERIAL_PATTERNS.filter((pattern) => pattern.test(file.code)).map(String)).toEqual([]);
    },
  );

  const accounts = resourcesOfType('Microsoft.Storage/storageAccounts');

  it('declares at least one storage account', () => {
    expect(accounts.length).toBeGreaterThan(0);
  });

  it.each(accounts.map((a) => [`${a.file.path} ${a.declaration.name}`, a] as const))(
    '%s disables shared keys and public blobs and requires TLS 1.2',
    (_title, { declaration }) => {
      const properties = nested(resourceBody(declaration), 'properties');
      expect(properties.get('allowSharedKeyAccess')).toBe('false');
      expect(properties.get('minimumTlsVersion')).toBe("'TLS1_2'");
      expect(properties.get('allowBlobPublicAccess')).toBe('false');
      expect(properties.get('supportsHttpsTrafficOnly')).toBe('true');
    },
  );

  it('turns off local authentication of Application Insights and key-based access to Key Vault', () => {
    expect(bicep('infra/modules/monitoring.bicep').code).toMatch(/^\s*disableLocalAuth: true$/m);
    const vaults = resourcesOfType('Microsoft.KeyVault/vaults');
    expect(vaults.length).toBeGreaterThan(0);
    for (const vault of vaults) {
      expect(nested(resourceBody(vault.declaration), 'properties').get('enableRbacAuthorization')).toBe(
        'true',
      );
    }
  });

  it('serves the app over HTTPS only, with FTP and basic-auth publishing off', () => {
    const [site] = resourcesOfType('Microsoft.Web/sites');
    expect(site).toBeDefined();
    const properties = nested(resourceBody(site!.declaration), 'properties');
    expect(properties.get('httpsOnly')).toBe('true');
    const siteConfig = nested(properties, 'siteConfig');
    expect(siteConfig.get('minTlsVersion')).toBe("'1.2'");
    expect(siteConfig.get('ftpsState')).toBe("'Disabled'");
    const policies = resourcesOfType('Microsoft.Web/sites/basicPublishingCredentialsPolicies').map((p) =>
      nested(resourceBody(p.declaration), 'properties').get('allow'),
    );
    expect(policies).toEqual(['false', 'false']);
  });

  it('gives the SMTP password to the app only as a Key Vault reference', () => {
    const main = bicep('infra/main.bicep');
    const smtp = main.declarations.find((d) => d.name === 'emailSmtpAppSettings');
    expect(smtp).toBeDefined();
    const entries = objectEntries(smtp!.text, maskStrings(smtp!.text).indexOf('{'));
    expect(entries.get('SMTP_PASSWORD')).toMatch(/'@Microsoft\.KeyVault\(SecretUri=\$\{[^}]+\}\)'/);
    const password = main.declarations.find((d) => d.keyword === 'param' && d.name === 'smtpPassword');
    expect(password?.decorators).toContain('@secure()');
  });
});

// ------------------------------------------------------------------------------------------------ (6) Node 22

describe('runtime: Node 22 in the Bicep, azure.yaml and package.json', () => {
  it('allows only Node 22 wherever the Bicep takes a Node version, and uses it for the worker', () => {
    const nodeParams = bicepFiles.flatMap((f) =>
      f.declarations.filter((d) => d.keyword === 'param' && d.name === 'nodeVersion').map((d) => ({ f, d })),
    );
    expect(nodeParams.map((p) => p.f.path).sort()).toEqual([
      'infra/main.bicep',
      'infra/modules/functionApp.bicep',
    ]);
    for (const { d } of nodeParams) {
      expect(d.decorators).toContain("@allowed(['22'])");
      expect(d.text).toMatch(/^param nodeVersion string = '22'$/m);
    }
    const functionApp = bicep('infra/modules/functionApp.bicep').code;
    expect(functionApp).toMatch(/runtime: \{\s*name: 'node'\s*version: nodeVersion\s*\}/);
    expect(functionApp).toContain("'Node|${nodeVersion}'");
    // No other Node version written out anywhere in infra/.
    const literals = bicepFiles.flatMap((f) =>
      [...f.code.matchAll(/node\W{0,3}(\d{2})\b/gi)].map((m) => m[1]),
    );
    expect(literals.filter((v) => v !== '22')).toEqual([]);
    const parameters = JSON.parse(read('infra/main.parameters.json')) as {
      parameters: Record<string, { value: unknown }>;
    };
    expect(parameters.parameters.nodeVersion?.value).toBe('22');
  });

  it('deploys the service api as a TypeScript function with azd, mentioning no other Node version', () => {
    const azureYaml = read('azure.yaml');
    expect(azureYaml).toMatch(/^services:\n {2}api:\n(?: {4}.*\n)*? {4}language: ts\n/m);
    expect(azureYaml).toMatch(/^ {4}host: function$/m);
    expect(azureYaml).toMatch(/^ {2}path: infra$/m);
    const versions = [...azureYaml.matchAll(/node\W{0,3}(\d{2})\b/gi)].map((m) => m[1]);
    expect(versions.length).toBeGreaterThan(0);
    expect(versions.filter((v) => v !== '22')).toEqual([]);
  });

  it('requires Node 22 in package.json and brings it as the node dev dependency', () => {
    const pkg = JSON.parse(read('package.json')) as {
      engines?: { node?: string };
      devDependencies?: Record<string, string>;
    };
    expect(pkg.engines?.node).toMatch(/^>=\s*22(\.\d+){0,2}$/);
    expect(pkg.devDependencies?.node).toMatch(/^[\^~]?22\./);
  });
});

// ------------------------------------------------------------------------------------------------ outputs

describe('outputs: UPPER_SNAKE, named like the settings they feed', () => {
  it('names every Bicep output in UPPER_SNAKE', () => {
    const outputs = bicepFiles.flatMap((f) =>
      f.declarations.filter((d) => d.keyword === 'output').map((d) => `${f.path} ${d.name}`),
    );
    expect(outputs.length).toBeGreaterThan(5);
    expect(outputs.filter((o) => !/ [A-Z][A-Z0-9_]*$/.test(o))).toEqual([]);
  });

  it('outputs the identity-based settings an operator needs to run the CLI against the deployment', () => {
    const names = bicep('infra/main.bicep')
      .declarations.filter((d) => d.keyword === 'output')
      .map((d) => d.name);
    for (const setting of [
      'AZURE_CLOUD',
      'AZURE_CLIENT_ID',
      'AUDIT_TABLES_ENDPOINT',
      'EMAIL_ENDPOINT',
      'EMAIL_SENDER',
      'REPORT_BASE_URL',
    ]) {
      expect(Object.keys(SETTINGS)).toContain(setting);
      expect(names).toContain(setting);
    }
  });
});
