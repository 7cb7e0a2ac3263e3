// The generated JSON and Bicep have the shapes Azure takes: policy rules as the policy definition schema describes
// them, definitions, the initiative and exemptions as the Microsoft.Authorization REST types describe them, and
// Bicep held to the rules test/unit/infra.test.ts holds infra/ to.
//
// Shapes from: the policy rule schema, schema.management.azure.com/schemas/2020-10-01/policyDefinition.json
// (Azure/azure-resource-manager-schemas); the Microsoft.Authorization 2023-04-01 and 2022-07-01-preview types
// (Azure/bicep-types-az generated/resources/microsoft.authorization); the limits of definition-structure-basics
// (displayName 128, description 512) and exemption-structure (expiresOn `yyyy-MM-ddTHH:mm:ss.fffffffZ`).

import { builtInMatrix } from '../../src/core/fipsMatrix';
import type { Exemption } from '../../src/core/types';
import { generatePolicy } from '../../src/policy/generatePolicy';
import { UNUSED_ALIASES, USED_ALIASES } from '../../src/policy/policyAliases';
import { POLICY_FILE_NAMES } from '../../src/policy/policyFileNames';
import {
  POLICY_EFFECTS,
  type PolicyDefinition,
  type PolicySetDefinition,
} from '../../src/policy/policyTypes';
import {
  type Declaration,
  declarations,
  firstString,
  KEY_MATERIAL_PATTERNS,
  maskStrings,
  nested,
  resourceBody,
  stripComments,
} from '../support/bicepScanner';

const asOf = new Date('2026-12-01T12:00:00Z');
const exemption = (over: Partial<Exemption>): Exemption => ({
  id: 'ex-1',
  scope:
    '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-a/providers/Microsoft.ContainerService/managedClusters/aks-a/agentPools/w19',
  codes: null,
  reason: 'Rebuilt on Windows 2022 in sprint 48',
  ticket: 'CHG0012345',
  owner: 'platform-team',
  createdBy: 'cli:alice',
  createdAt: '2026-11-01T00:00:00.000Z',
  expiresOn: '2027-01-31T23:59:59.999Z',
  ...over,
});
const generated = generatePolicy(builtInMatrix, {
  effect: 'Deny',
  asOf,
  exemptions: [
    exemption({}),
    exemption({
      id: 'ex-rg',
      scope: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-b',
      codes: ['OS_RETIRED'],
    }),
    exemption({
      id: 'ex-sub',
      scope: '/subscriptions/00000000-0000-0000-0000-000000000002',
      codes: ['FIPS_DISABLED'],
    }),
  ],
});
const files = generated.files;
const definitions = JSON.parse(files[POLICY_FILE_NAMES.definitions]!) as PolicyDefinition[];
const initiative = JSON.parse(files[POLICY_FILE_NAMES.initiative]!) as PolicySetDefinition;
const exemptionsFile = JSON.parse(files[POLICY_FILE_NAMES.exemptions]!) as {
  exemptions: { name: string; level: string; scope: string; properties: Record<string, unknown> }[];
  assignmentParameters: Record<string, { value: unknown[] }>;
};

// ------------------------------------------------------------------------------------------------ the rule schema

const OPERATOR_TYPES: Record<string, readonly string[]> = {
  equals: ['number', 'string'],
  notEquals: ['number', 'string'],
  like: ['string'],
  notLike: ['string'],
  contains: ['string'],
  notContains: ['string'],
  in: ['array', 'string'],
  notIn: ['array', 'string'],
  containsKey: ['string'],
  notContainsKey: ['string'],
  match: ['string'],
  matchInsensitively: ['string'],
  notMatch: ['string'],
  notMatchInsensitively: ['string'],
  exists: ['string', 'boolean'],
  greater: ['number', 'string'],
  less: ['number', 'string'],
  greaterOrEquals: ['number', 'string'],
  lessOrEquals: ['number', 'string'],
};
const typeOf = (v: unknown) => (Array.isArray(v) ? 'array' : typeof v);
const isExpression = (v: unknown) => typeof v === 'string' && /^\[[^[].*\]$/s.test(v);

/** Problems of a condition or logical operator by the 2020-10-01 schema; `path` names where. */
function ruleProblems(node: unknown, path: string): string[] {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return [`${path}: not an object`];
  const o = node as Record<string, unknown>;
  const keys = Object.keys(o);
  for (const logical of ['allOf', 'anyOf'] as const) {
    if (logical in o) {
      const list = o[logical];
      if (keys.length !== 1) return [`${path}: ${logical} with other keys ${keys.join(',')}`];
      if (!Array.isArray(list) || list.length === 0) return [`${path}.${logical}: must be a non-empty array`];
      return list.flatMap((c, i) => ruleProblems(c, `${path}.${logical}[${i}]`));
    }
  }
  if ('not' in o)
    return keys.length === 1 ? ruleProblems(o.not, `${path}.not`) : [`${path}: not with other keys`];
  const subjects = ['source', 'field', 'value', 'count'].filter((k) => k in o);
  const operators = keys.filter((k) => k in OPERATOR_TYPES);
  const problems: string[] = [];
  if (subjects.length !== 1)
    problems.push(`${path}: needs exactly one of field, value, count; has ${subjects.join(',')}`);
  if (operators.length !== 1)
    problems.push(`${path}: needs exactly one operator; has ${operators.join(',')}`);
  const unknown = keys.filter((k) => !subjects.includes(k) && !operators.includes(k));
  if (unknown.length) problems.push(`${path}: unknown keys ${unknown.join(',')}`);
  for (const op of operators) {
    if (!OPERATOR_TYPES[op]!.includes(typeOf(o[op]))) problems.push(`${path}.${op}: a ${typeOf(o[op])}`);
  }
  if ('field' in o && typeof o.field !== 'string') problems.push(`${path}.field: not a string`);
  if ('value' in o && typeof o.value !== 'string') problems.push(`${path}.value: not a string`);
  if ('count' in o) {
    const count = o.count as Record<string, unknown>;
    const allowed = 'field' in count ? ['field', 'where'] : ['value', 'name', 'where'];
    const extra = Object.keys(count).filter((k) => !allowed.includes(k));
    if (extra.length) problems.push(`${path}.count: unknown keys ${extra.join(',')}`);
    if ('field' in count && !(typeof count.field === 'string' && count.field.endsWith('[*]'))) {
      problems.push(`${path}.count.field: must be a [*] alias`);
    }
    if ('value' in count && !Array.isArray(count.value) && !isExpression(count.value)) {
      problems.push(`${path}.count.value: must be an array or an expression`);
    }
    if ('where' in count) problems.push(...ruleProblems(count.where, `${path}.count.where`));
  }
  return problems;
}

function fieldsOf(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(fieldsOf);
  if (typeof node !== 'object' || node === null) return [];
  const o = node as Record<string, unknown>;
  return [...(typeof o.field === 'string' ? [o.field] : []), ...Object.values(o).flatMap(fieldsOf)];
}

function expressionsOf(node: unknown): string[] {
  if (typeof node === 'string') return isExpression(node) ? [node] : [];
  if (Array.isArray(node)) return node.flatMap(expressionsOf);
  if (typeof node !== 'object' || node === null) return [];
  return Object.values(node).flatMap(expressionsOf);
}

const parametersUsed = (node: unknown) =>
  [
    ...new Set(
      expressionsOf(node).flatMap((e) => [...e.matchAll(/parameters\('([^']+)'\)/g)].map((m) => m[1]!)),
    ),
  ].sort();

// ------------------------------------------------------------------------------------------------ definitions

const NAME = /^[^<>*%&:\\?.+/]*[^<>*%&:\\?.+/ ]+$/;
const PARAMETER_TYPES = ['Array', 'Boolean', 'DateTime', 'Float', 'Integer', 'Object', 'String'];

describe('the policy definitions', () => {
  it('are one per finding a policy can judge and per target, with unique names', () => {
    expect(definitions).toHaveLength(8);
    expect(new Set(definitions.map((d) => d.name.toLowerCase())).size).toBe(8);
  });

  it.each(definitions.map((d) => [d.name, d] as const))('%s has the required shape', (_name, definition) => {
    expect(Object.keys(definition).sort()).toEqual(['name', 'properties']);
    expect(definition.name).toMatch(NAME);
    expect(definition.name.length).toBeLessThanOrEqual(64);
    const p = definition.properties;
    expect(Object.keys(p).sort()).toEqual([
      'description',
      'displayName',
      'metadata',
      'mode',
      'parameters',
      'policyRule',
    ]);
    expect(p.displayName.length).toBeLessThanOrEqual(128);
    expect(p.description.length).toBeLessThanOrEqual(512);
    expect(['All', 'Indexed']).toContain(p.mode);
    expect(p.metadata.category).toBe('Kubernetes');
    expect(p.metadata.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(p.metadata.aksFipsAuditor.matrixVersion).toBe(builtInMatrix.version);
    for (const [name, parameter] of Object.entries(p.parameters)) {
      expect([name, PARAMETER_TYPES.includes(parameter.type)]).toEqual([name, true]);
      expect(parameter.metadata.displayName.length).toBeGreaterThan(0);
      expect(parameter.metadata.description.length).toBeGreaterThan(0);
    }
    expect(p.parameters.effect).toMatchObject({
      type: 'String',
      allowedValues: POLICY_EFFECTS,
      defaultValue: 'Deny',
    });
    expect(Object.keys(p.policyRule).sort()).toEqual(['if', 'then']);
    expect(p.policyRule.then).toEqual({ effect: "[parameters('effect')]" });
    expect(ruleProblems(p.policyRule.if, 'if')).toEqual([]);
    expect(parametersUsed(p.policyRule)).toEqual(Object.keys(p.parameters).sort());
  });

  it('read only the aliases of the alias table (in conditions and expressions), the type and the ID, nothing it lists as unused', () => {
    const fields = new Set(
      definitions.flatMap((d) => [
        ...fieldsOf(d.properties.policyRule.if),
        // Aliases read by current() or field() in expressions, e.g. the pool name of a waiver.
        ...expressionsOf(d.properties.policyRule.if).flatMap((e) =>
          [...e.matchAll(/(?:current|field)\('(Microsoft\.[^']+)'\)/g)].map((m) => m[1]!),
        ),
      ]),
    );
    const known = new Set(['type', 'id', ...USED_ALIASES.map((a) => a.alias)]);
    expect([...fields].filter((f) => !known.has(f))).toEqual([]);
    expect(USED_ALIASES.map((a) => a.alias).filter((a) => !fields.has(a))).toEqual([]);
    expect(UNUSED_ALIASES.filter((a) => fields.has(a.alias))).toEqual([]);
  });

  it('name each alias by its resource type and default path, as the published alias list does', () => {
    for (const { alias, defaultPath } of [...USED_ALIASES, ...UNUSED_ALIASES]) {
      const [, property] =
        /^Microsoft\.ContainerService\/managedClusters(?:\/agentPools)?\/(.+)$/.exec(alias) ?? [];
      expect([alias, `properties.${property}`]).toEqual([alias, defaultPath]);
    }
  });

  it('keep every metadata property within the 1,024 characters Azure Policy allows, the initiative too', () => {
    const metadata = [...definitions.map((d) => d.properties.metadata), initiative.properties.metadata];
    const long = metadata.flatMap((m) =>
      Object.entries(m).filter(([, v]) => (typeof v === 'string' ? v : JSON.stringify(v)).length > 1024),
    );
    expect(long).toEqual([]);
  });

  it('judge agent pools in mode All, since an agent pool has neither tags nor a location', () => {
    for (const d of definitions.filter((d) => d.properties.metadata.aksFipsAuditor.target === 'agentPools')) {
      expect(d.properties.mode).toBe('All');
    }
  });

  it('are the same whenever they are generated: the date is read by the rules (utcNow), not written into them', () => {
    const later = generatePolicy(builtInMatrix, {
      effect: 'Deny',
      asOf: new Date('2027-09-01T00:00:00Z'),
      exemptions: null,
    });
    expect(later.files[POLICY_FILE_NAMES.definitions]).toBe(files[POLICY_FILE_NAMES.definitions]);
    expect(later.files[POLICY_FILE_NAMES.initiative]).toBe(files[POLICY_FILE_NAMES.initiative]);
  });

  it('take their default effect from --effect', () => {
    const audit = generatePolicy(builtInMatrix, { effect: 'Audit', asOf, exemptions: null });
    expect(new Set(audit.definitions.map((d) => d.properties.parameters.effect?.defaultValue))).toEqual(
      new Set(['Audit']),
    );
    expect(audit.initiative.properties.parameters.effect?.defaultValue).toBe('Audit');
  });
});

describe('the initiative', () => {
  const refs = initiative.properties.policyDefinitions;

  it('has the shape of a policy set definition', () => {
    expect(Object.keys(initiative).sort()).toEqual(['name', 'properties']);
    expect(initiative.name).toMatch(NAME);
    const p = initiative.properties;
    expect(p.displayName.length).toBeLessThanOrEqual(128);
    expect(p.description.length).toBeLessThanOrEqual(512);
    expect(p.metadata.category).toBe('Kubernetes');
    expect(p.parameters.effect).toMatchObject({
      type: 'String',
      allowedValues: POLICY_EFFECTS,
      defaultValue: 'Deny',
    });
    for (const parameter of Object.values(p.parameters)) expect(PARAMETER_TYPES).toContain(parameter.type);
  });

  it('references every definition once, by its scoped ID, under a unique reference ID', () => {
    expect(refs.map((r) => r.policyDefinitionId).sort()).toEqual(
      definitions
        .map((d) => `{definitionScope}/providers/Microsoft.Authorization/policyDefinitions/${d.name}`)
        .sort(),
    );
    expect(new Set(refs.map((r) => r.policyDefinitionReferenceId)).size).toBe(refs.length);
  });

  it('passes each definition every parameter it declares, from parameters the initiative declares', () => {
    for (const ref of refs) {
      const definition = definitions.find((d) => ref.policyDefinitionId.endsWith(`/${d.name}`))!;
      expect([ref.policyDefinitionReferenceId, Object.keys(ref.parameters).sort()]).toEqual([
        ref.policyDefinitionReferenceId,
        Object.keys(definition.properties.parameters).sort(),
      ]);
      for (const used of parametersUsed(ref.parameters))
        expect(Object.keys(initiative.properties.parameters)).toContain(used);
    }
    expect(parametersUsed(refs).sort()).toEqual(Object.keys(initiative.properties.parameters).sort());
  });

  it('puts every reference in a declared group', () => {
    const groups = initiative.properties.policyDefinitionGroups.map((g) => g.name);
    for (const ref of refs) for (const g of ref.groupNames) expect(groups).toContain(g);
  });
});

describe('the exemptions file', () => {
  const refIds = initiative.properties.policyDefinitions.map((r) => r.policyDefinitionReferenceId);

  it.each(exemptionsFile.exemptions.map((e) => [e.name, e] as const))(
    '%s has the shape of a policy exemption',
    (_n, e) => {
      expect(e.name).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      const p = e.properties as {
        displayName: string;
        description: string;
        exemptionCategory: string;
        expiresOn: string;
        policyAssignmentId: string;
        policyDefinitionReferenceIds: string[];
      };
      expect(Object.keys(p).sort()).toEqual([
        'description',
        'displayName',
        'exemptionCategory',
        'expiresOn',
        'metadata',
        'policyAssignmentId',
        'policyDefinitionReferenceIds',
      ]);
      expect(p.exemptionCategory).toBe('Waiver');
      expect(p.expiresOn).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/);
      expect(p.policyAssignmentId).toBe('{policyAssignmentId}');
      expect(p.displayName.length).toBeLessThanOrEqual(128);
      expect(p.description.length).toBeLessThanOrEqual(512);
      expect(p.description).toMatch(/Owner: platform-team\. Ticket: CHG0012345\. Reason: Rebuilt/);
      expect(p.policyDefinitionReferenceIds.length).toBeGreaterThan(0);
      for (const id of p.policyDefinitionReferenceIds) expect(refIds).toContain(id);
    },
  );

  it('carries a waiver list for every initiative waiver parameter', () => {
    const waiverParameters = Object.keys(initiative.properties.parameters).filter((p) => p !== 'effect');
    expect(Object.keys(exemptionsFile.assignmentParameters).sort()).toEqual(waiverParameters.sort());
  });
});

// ------------------------------------------------------------------------------------------------ Bicep

interface GeneratedBicep {
  name: string;
  source: string;
  code: string;
  declarations: Declaration[];
}

const bicepFiles: GeneratedBicep[] = Object.entries(files)
  .filter(([name]) => name.endsWith('.bicep'))
  .map(([name, source]) => ({
    name,
    source,
    code: stripComments(source),
    declarations: declarations(source),
  }));
const bicep = (name: string) => bicepFiles.find((f) => f.name === name)!;

describe('the Bicep files', () => {
  it('are the four documented files', () => {
    expect(bicepFiles.map((f) => f.name).sort()).toEqual(
      [
        POLICY_FILE_NAMES.managementGroupBicep,
        POLICY_FILE_NAMES.subscriptionBicep,
        POLICY_FILE_NAMES.resourceGroupExemptionModule,
        POLICY_FILE_NAMES.subscriptionExemptionModule,
      ].sort(),
    );
  });

  it.each(bicepFiles.map((f) => [f.name, f] as const))(
    '%s opens with one line saying what it is for',
    (_n, file) => {
      expect(file.source).toMatch(/^\/\/ \S.+\n/);
    },
  );

  it.each(
    bicepFiles.flatMap((f) =>
      f.declarations.filter((d) => d.keyword === 'param').map((d) => [`${f.name} ${d.name}`, d] as const),
    ),
  )(
    '%s has a @description starting "Required." (no default) or "Optional." (a default)',
    (_title, declaration) => {
      const description = declaration.decorators.find((d) => d.startsWith('@description('));
      const text = firstString(description ?? '') ?? '';
      expect(text).toMatch(/^(Required|Optional)\. \S/);
      const header = maskStrings(declaration.text).split('\n')[0]!;
      expect(/^param\s+\w+\s+[^=]+=/.test(header)).toBe(text.startsWith('Optional.'));
    },
  );

  it.each(bicepFiles.map((f) => [f.name, f] as const))(
    '%s reads and builds no key, and holds no GUID',
    (_n, file) => {
      expect(KEY_MATERIAL_PATTERNS.filter((p) => p.test(file.code)).map(String)).toEqual([]);
      expect(file.code.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi)).toBeNull();
    },
  );

  it('names every output in UPPER_SNAKE', () => {
    const outputs = bicepFiles.flatMap((f) =>
      f.declarations.filter((d) => d.keyword === 'output').map((d) => d.name),
    );
    expect(outputs.length).toBeGreaterThan(0);
    expect(outputs.filter((o) => !/^[A-Z][A-Z0-9_]*$/.test(o))).toEqual([]);
  });

  it.each([
    [POLICY_FILE_NAMES.managementGroupBicep, 'managementGroup', 'managementGroup().id', 24],
    [POLICY_FILE_NAMES.subscriptionBicep, 'subscription', 'subscription().id', 64],
  ] as const)(
    '%s deploys at %s: definitions, initiative and assignment from the JSON files beside it',
    (name, scope, definitionScope, nameLimit) => {
      const file = bicep(name);
      expect(file.code).toContain(`targetScope = '${scope}'`);
      for (const json of [
        POLICY_FILE_NAMES.definitions,
        POLICY_FILE_NAMES.initiative,
        POLICY_FILE_NAMES.exemptions,
      ]) {
        expect(file.code).toContain(`loadJsonContent('${json}')`);
      }
      expect(file.code).toContain(`var definitionScope = ${definitionScope}`);
      expect(file.code).toContain("replace(ref.policyDefinitionId, '{definitionScope}', definitionScope)");
      const types = file.declarations
        .filter((d) => d.keyword === 'resource')
        .map((d) => /'([^@']+)@/.exec(d.text)?.[1]);
      expect(types).toEqual([
        'Microsoft.Authorization/policyDefinitions',
        'Microsoft.Authorization/policySetDefinitions',
        'Microsoft.Authorization/policyAssignments',
      ]);
      const effect = file.declarations.find((d) => d.name === 'effect')!;
      expect(effect.decorators.join('\n')).toMatch(/@allowed\(\[\s*'Audit'\s*'Deny'\s*'Disabled'\s*\]\)/);
      expect(effect.text).toContain("= 'Deny'");
      expect(file.declarations.find((d) => d.name === 'assignmentName')!.decorators).toContain(
        `@maxLength(${nameLimit})`,
      );
      const assignment = nested(
        resourceBody(file.declarations.find((d) => d.name === 'assignment')!),
        'properties',
      );
      expect(assignment.get('policyDefinitionId')).toBe('initiative.id');
      expect(assignment.get('parameters')).toMatch(/effect: \{\s*value: effect\s*\}/);
      expect(
        assignment.get('nonComplianceMessages')?.match(/policyDefinitionReferenceId: '([^']+)'/g),
      ).toHaveLength(initiative.properties.policyDefinitions.length);
      // Every module it deploys is generated beside it, and receives the assignment's ID.
      for (const module of file.declarations.filter((d) => d.keyword === 'module')) {
        const path = /^module\s+\w+\s+'([^']+)'/.exec(module.text)?.[1];
        expect(Object.keys(files)).toContain(path);
        expect(module.text).toContain('policyAssignmentId: assignment.id');
      }
    },
  );

  it('deploys exemptions on a resource group, a cluster or an agent pool, each only at its own level', () => {
    const file = bicep(POLICY_FILE_NAMES.resourceGroupExemptionModule);
    const exemptions = file.declarations.filter(
      (d) => d.keyword === 'resource' && d.text.includes('policyExemptions@'),
    );
    expect(
      exemptions.map((d) => [
        d.name,
        /= if \(level == '(\w+)'\)/.exec(d.text)?.[1],
        resourceBody(d).get('scope'),
      ]),
    ).toEqual([
      ['onResourceGroup', 'resourceGroup', undefined],
      ['onCluster', 'cluster', 'cluster'],
      ['onPool', 'pool', 'pool'],
    ]);
    expect(file.code).toMatch(
      /resource pool 'Microsoft\.ContainerService\/managedClusters\/agentPools@[\d-]+' existing/,
    );
  });
});
