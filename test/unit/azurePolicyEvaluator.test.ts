// The test evaluator of Azure Policy conditions reproduces the documented examples before it judges generated rules.
// Examples: MicrosoftDocs/azure-docs articles/governance/policy/how-to/author-policies-for-arrays.md (the sample
// resource, the count tables and the `[*]` appendix) and concepts/definition-structure-policy-rule.md.

import {
  evaluateDefinition,
  evaluatePolicyCondition,
  PolicyEvaluationError,
  type PolicyEvaluationOptions,
  type PolicyResource,
} from '../support/azurePolicyEvaluator';

const T = 'Microsoft.Test/resourceType';
const options: PolicyEvaluationOptions = {
  now: new Date('2026-12-01T10:00:00.123Z'),
  aliases: {
    [`${T}/stringArray`]: 'properties.stringArray',
    [`${T}/stringArray[*]`]: 'properties.stringArray[*]',
    [`${T}/objectArray[*]`]: 'properties.objectArray[*]',
    [`${T}/objectArray[*].property`]: 'properties.objectArray[*].property',
    [`${T}/objectArray[*].nestedArray[*]`]: 'properties.objectArray[*].nestedArray[*]',
    [`${T}/missingArray[*]`]: 'properties.missingArray[*]',
    [`${T}/missingArray[*].property`]: 'properties.missingArray[*].property',
    [`${T}/flag`]: 'properties.flag',
    [`${T}/missing`]: 'properties.missing',
    'Microsoft.Storage/storageAccounts/networkAcls.ipRules': 'properties.networkAcls.ipRules',
    'Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value':
      'properties.networkAcls.ipRules[*].value',
  },
};

/** The sample resource of "Referencing array resource properties". */
const sample: PolicyResource = {
  id: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Test/resourceType/one',
  type: T,
  name: 'one',
  tags: { env: 'prod' },
  properties: {
    stringArray: ['a', 'b', 'c'],
    objectArray: [
      { property: 'value1', nestedArray: [1, 2] },
      { property: 'value2', nestedArray: [3, 4] },
    ],
    flag: false,
  },
};

const holds = (condition: unknown, resource: PolicyResource = sample, parameters = {}) =>
  evaluatePolicyCondition(condition, resource, { ...options, parameters });

describe('count, as the arrays article evaluates it', () => {
  it.each([
    ['counts the members without where', { count: { field: `${T}/stringArray[*]` }, equals: 3 }],
    [
      'counts the members of nested arrays',
      { count: { field: `${T}/objectArray[*].nestedArray[*]` }, greaterOrEquals: 4 },
    ],
    [
      'evaluates where once per member, as if it were the only one',
      {
        count: { field: `${T}/stringArray[*]`, where: { field: `${T}/stringArray[*]`, equals: 'a' } },
        equals: 1,
      },
    ],
    [
      'applies every condition of where to the same member',
      {
        count: {
          field: `${T}/objectArray[*]`,
          where: {
            allOf: [
              { field: `${T}/objectArray[*].property`, equals: 'value2' },
              { field: `${T}/objectArray[*].nestedArray[*]`, greater: 2 },
            ],
          },
        },
        equals: 1,
      },
    ],
    [
      'lets where read fields outside the array',
      { count: { field: `${T}/objectArray[*]`, where: { field: 'tags.env', equals: 'prod' } }, equals: 2 },
    ],
    [
      'returns the counted member from field() as a one-member array (so equals against it fails)',
      {
        count: {
          field: `${T}/stringArray[*]`,
          where: { field: `${T}/stringArray[*]`, equals: `[field('${T}/stringArray[*]')]` },
        },
        equals: 0,
      },
    ],
    [
      'returns the member itself through first(field())',
      {
        count: {
          field: `${T}/stringArray[*]`,
          where: { field: `${T}/stringArray[*]`, equals: `[first(field('${T}/stringArray[*]'))]` },
        },
        equals: 3,
      },
    ],
    [
      'names the current item of a value count and of the enclosing field count',
      {
        count: {
          field: `${T}/objectArray[*]`,
          where: {
            count: {
              value: ['value2', 'value9'],
              name: 'wanted',
              where: { value: `[current('${T}/objectArray[*].property')]`, equals: "[current('wanted')]" },
            },
            equals: 1,
          },
        },
        equals: 1,
      },
    ],
    [
      'counts an empty collection for a missing array',
      { count: { field: `${T}/missingArray[*]` }, equals: 0 },
    ],
  ])('%s', (_title, condition) => {
    expect(holds(condition)).toBe(true);
  });
});

describe('field conditions on [*] aliases hold for all selected values', () => {
  const storage: PolicyResource = {
    id: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st',
    type: 'Microsoft.Storage/storageAccounts',
    properties: {
      networkAcls: {
        ipRules: [
          { value: '127.0.0.1', action: 'Allow' },
          { value: '192.168.1.1', action: 'Allow' },
        ],
      },
    },
  };
  const field = 'Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value';
  // The appendix table of the arrays article: condition, and whether the policy effect fires.
  it.each([
    [{ field, notEquals: '127.0.0.1' }, false],
    [{ field, notEquals: '10.0.4.1' }, true],
    [{ not: { field, notEquals: '127.0.0.1' } }, true],
    [{ not: { field, notEquals: '10.0.4.1' } }, false],
    [{ not: { field, equals: '127.0.0.1' } }, true],
    [{ not: { field, equals: '10.0.4.1' } }, true],
    [{ field, equals: '127.0.0.1' }, false],
    [{ field, equals: '10.0.4.1' }, false],
  ])('%j fires: %s', (condition, fires) => {
    expect(
      holds(
        {
          allOf: [
            { field: 'Microsoft.Storage/storageAccounts/networkAcls.ipRules', exists: 'true' },
            condition,
          ],
        },
        storage,
      ),
    ).toBe(fires);
  });

  it('holds vacuously over an empty collection, which is why exists guards such conditions', () => {
    expect(holds({ field: `${T}/missingArray[*].property`, equals: 'anything' })).toBe(true);
    expect(holds({ field: `${T}/missingArray[*].property`, exists: 'false' })).toBe(true);
  });
});

describe('conditions compare as the policy rule article says', () => {
  it.each([
    ['equals ignores case', { value: 'Windows', equals: 'windows' }, true],
    ['in ignores case', { value: 'ubuntu2404', in: ['Ubuntu2404', 'Flatcar'] }, true],
    ['notIn ignores case', { value: 'FLATCAR', notIn: ['Ubuntu2404', 'Flatcar'] }, false],
    [
      'like takes one wildcard and ignores case',
      { value: 'AKSUbuntu-2204gen2fips', like: 'aksubuntu-*' },
      true,
    ],
    ['match is case-sensitive', { value: 'abc1', match: 'ABC#' }, false],
    ['matchInsensitively is not', { value: 'abc1', matchInsensitively: 'ABC#' }, true],
    ['contains ignores case', { value: 'AKSUbuntu-2204gen2FIPS', contains: 'fips' }, true],
    ['a boolean equals its text', { field: `${T}/flag`, equals: 'false' }, true],
    [
      'dates compare as instants',
      { value: '2026-05-29T00:00:01.0000000Z', greaterOrEquals: '2026-05-29' },
      true,
    ],
    ['a missing value equals nothing', { field: `${T}/missing`, equals: '' }, false],
    ['a missing value is not equal to anything', { field: `${T}/missing`, notEquals: 'x' }, true],
    ['a missing value does not exist', { field: `${T}/missing`, exists: 'false' }, true],
    ['a present false exists', { field: `${T}/flag`, exists: true }, true],
  ])('%s', (_title, condition, expected) => {
    expect(holds(condition)).toBe(expected);
  });

  it('gives utcNow() in the seven-digit format', () => {
    expect(holds({ value: '[utcNow()]', equals: '2026-12-01T10:00:00.1230000Z' })).toBe(true);
  });

  it.each([
    ['an ordering comparison of different types', { value: 'abc', less: 3 }],
    ['an alias nobody declared', { field: 'Microsoft.Test/resourceType/unknown', exists: 'true' }],
    ['a function it does not implement', { value: '[resourceGroup().name]', equals: 'x' }],
    ['a condition with two operators', { value: 'a', equals: 'a', notEquals: 'b' }],
  ])('throws on %s', (_title, condition) => {
    expect(() => holds(condition)).toThrow(PolicyEvaluationError);
  });
});

describe('definitions', () => {
  const definition = {
    name: 'demo',
    properties: {
      mode: 'All',
      parameters: { effect: { defaultValue: 'Audit', allowedValues: ['Audit', 'Deny', 'Disabled'] } },
      policyRule: { if: { field: 'type', equals: T }, then: { effect: "[parameters('effect')]" } },
    },
  };

  it('takes the effect from its parameter and treats Disabled as not flagged', () => {
    expect(evaluateDefinition(definition, sample, options)).toEqual({
      matched: true,
      effect: 'Audit',
      flagged: true,
    });
    expect(
      evaluateDefinition(definition, sample, { ...options, parameters: { effect: 'Disabled' } }).flagged,
    ).toBe(false);
  });

  it('refuses a parameter value outside allowedValues', () => {
    expect(() =>
      evaluateDefinition(definition, sample, { ...options, parameters: { effect: 'Block' } }),
    ).toThrow(/not an allowed value/);
  });
});
