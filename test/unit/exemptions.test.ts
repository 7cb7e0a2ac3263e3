// Exemptions: their effect on a judged pool at each scope level and at expiry, and input validation.

import { loadConfig } from '../../src/config';
import { applyExemptions, isActive } from '../../src/core/applyExemptions';
import {
  EXEMPTION_LIMITS,
  exemptionIdProblem,
  exemptionState,
  expiresWithin,
  latestExpiry,
  parseExemptionScope,
  parseExpiresOn,
  validateExemptionInput,
} from '../../src/core/exemptionRules';
import type { Exemption, Finding, FindingCode, PoolResult, PoolStatus } from '../../src/core/types';
import { ConfigError } from '../../src/errors';

const NOW = new Date('2026-11-29T06:00:00.000Z');
const SUB = '0b1f6471-1bf0-4dda-aec3-111122223333';
const RG = `/subscriptions/${SUB}/resourceGroups/rg-Payments`;
const CLUSTER = `${RG}/providers/Microsoft.ContainerService/managedClusters/aks-pay`;
const POOL = `${CLUSTER}/agentPools/win22`;

const finding = (code: FindingCode, severity: Finding['severity'] = 'high', undecided?: true): Finding => ({
  code,
  severity,
  message: `${code} message`,
  remediation: `${code} remediation`,
  ...(undecided ? { undecided } : {}),
});

function pool(status: PoolStatus, findings: Finding[], id = POOL): PoolResult {
  return {
    id,
    subscriptionId: SUB,
    resourceGroup: 'rg-Payments',
    cluster: 'aks-pay',
    pool: id.split('/').pop()!,
    location: 'eastus',
    osType: 'Windows',
    osSku: 'Windows2019',
    kubernetesVersion: '1.33.2',
    nodeImageVersion: 'AKSWindows-2019-containerd-17763.8027.261120',
    enableFips: false,
    status,
    findings,
    exemption: null,
  };
}

const fipsOff = () =>
  pool('noncompliant', [finding('FIPS_DISABLED'), finding('NODE_IMAGE_OUTDATED', 'medium')]);
const unknownPool = () => pool('unknown', [finding('OS_SKU_UNRECOGNIZED', 'info', true)]);

function exemption(scope: string, overrides: Partial<Exemption> = {}): Exemption {
  return {
    id: `ex-${scope.length}`,
    scope,
    codes: null,
    reason: 'Windows 2019 pool is rebuilt on Windows 2022 in sprint 48',
    ticket: 'CHG0012345',
    owner: 'platform-team@contoso.com',
    createdBy: 'alice@contoso.com',
    createdAt: '2026-11-01T00:00:00.000Z',
    expiresOn: '2026-12-31T23:59:59.999Z',
    ...overrides,
  };
}

describe('applying exemptions', () => {
  it.each([
    ['the pool itself', POOL],
    ['its cluster', CLUSTER],
    ['its resource group', RG],
    ['its subscription', `/subscriptions/${SUB}`],
  ])(
    'makes a noncompliant pool exempt when an active exemption covers %s, keeping its findings',
    (_level, scope) => {
      const waiver = exemption(scope);
      const result = applyExemptions(fipsOff(), [waiver], NOW);
      expect(result.status).toBe('exempt');
      expect(result.exemption).toEqual(waiver);
      expect(result.findings.map((f) => f.code)).toEqual(['FIPS_DISABLED', 'NODE_IMAGE_OUTDATED']);
    },
  );

  it('matches the scope case-insensitively and ignores a trailing slash', () => {
    const result = applyExemptions(fipsOff(), [exemption(`${CLUSTER.toUpperCase()}/`)], NOW);
    expect(result.status).toBe('exempt');
  });

  it.each([
    [
      'a cluster whose name merely starts with the scope',
      `${RG}/providers/Microsoft.ContainerService/managedClusters/aks-pa`,
    ],
    ['another pool of the same cluster', `${CLUSTER}/agentPools/win2`],
    ['another subscription', '/subscriptions/0b1f6471-1bf0-4dda-aec3-999999999999'],
  ])('does not exempt a pool under %s', (_what, scope) => {
    expect(applyExemptions(fipsOff(), [exemption(scope)], NOW).status).toBe('noncompliant');
  });

  it('exempts a pool when a code-limited exemption covers its only high finding', () => {
    const result = applyExemptions(fipsOff(), [exemption(POOL, { codes: ['FIPS_DISABLED'] })], NOW);
    expect(result.status).toBe('exempt');
  });

  it('leaves a pool noncompliant when a code-limited exemption misses one of its high findings', () => {
    const twoHigh = pool('noncompliant', [finding('FIPS_DISABLED'), finding('OS_RETIRED')]);
    const result = applyExemptions(twoHigh, [exemption(POOL, { codes: ['FIPS_DISABLED'] })], NOW);
    expect(result.status).toBe('noncompliant');
    expect(result.exemption).toBeNull();
  });

  it('leaves a pool noncompliant when the exemption only covers a medium finding', () => {
    const result = applyExemptions(fipsOff(), [exemption(POOL, { codes: ['NODE_IMAGE_OUTDATED'] })], NOW);
    expect(result.status).toBe('noncompliant');
  });

  it('exempts a pool whose high findings are covered by two code-limited exemptions together', () => {
    const twoHigh = pool('noncompliant', [finding('FIPS_DISABLED'), finding('OS_RETIRED')]);
    const result = applyExemptions(
      twoHigh,
      [
        exemption(CLUSTER, { codes: ['FIPS_DISABLED'] }),
        exemption(`/subscriptions/${SUB}`, { codes: ['OS_RETIRED'] }),
      ],
      NOW,
    );
    expect(result.status).toBe('exempt');
  });

  it.each([
    ['cluster', CLUSTER],
    ['resource group', RG],
    ['subscription', `/subscriptions/${SUB}`],
  ])('never hides an unknown pool behind a %s-wide exemption', (_level, scope) => {
    const result = applyExemptions(unknownPool(), [exemption(scope)], NOW);
    expect(result.status).toBe('unknown');
    expect(result.exemption).toBeNull();
  });

  it('exempts an unknown pool only by an exemption of that very pool', () => {
    expect(applyExemptions(unknownPool(), [exemption(POOL.toLowerCase())], NOW).status).toBe('exempt');
  });

  it('leaves a compliant pool compliant and without an exemption attached', () => {
    const compliant = pool('compliant', [finding('NODE_IMAGE_OUTDATED', 'medium')]);
    const result = applyExemptions(compliant, [exemption(POOL)], NOW);
    expect(result.status).toBe('compliant');
    expect(result.exemption).toBeNull();
  });

  describe('at the expiry boundary (clock passed in)', () => {
    const expiresOn = '2026-12-01T00:00:00.000Z';
    const waiver = exemption(POOL, { expiresOn });
    it.each([
      ['one millisecond before expiresOn', new Date(Date.parse(expiresOn) - 1), 'exempt'],
      ['exactly at expiresOn', new Date(expiresOn), 'noncompliant'],
      ['a day after expiresOn', new Date(Date.parse(expiresOn) + 86_400_000), 'noncompliant'],
      ['exactly at createdAt', new Date(waiver.createdAt), 'exempt'],
      ['before createdAt', new Date(Date.parse(waiver.createdAt) - 1), 'noncompliant'],
    ] as const)('is %s: %s', (_when, asOf, status) => {
      expect(applyExemptions(fipsOff(), [waiver], asOf).status).toBe(status);
      expect(isActive(waiver, asOf)).toBe(status === 'exempt');
    });
  });

  describe('showing the most specific exemption', () => {
    it('shows the pool-level exemption over cluster- and subscription-wide ones', () => {
      const waivers = [exemption(`/subscriptions/${SUB}`), exemption(POOL), exemption(CLUSTER)];
      expect(applyExemptions(fipsOff(), waivers, NOW).exemption?.scope).toBe(POOL);
    });

    it('shows the one that lasts longest among exemptions of the same scope', () => {
      const short = exemption(CLUSTER, { id: 'short', expiresOn: '2026-12-05T00:00:00.000Z' });
      const long = exemption(CLUSTER, { id: 'long', expiresOn: '2027-01-05T00:00:00.000Z' });
      expect(applyExemptions(fipsOff(), [short, long], NOW).exemption?.id).toBe('long');
    });

    it('does not count a trailing slash as more specific', () => {
      const subscription = exemption(`/subscriptions/${SUB}//`, { id: 'sub' });
      const group = exemption(RG, { id: 'rg' });
      expect(applyExemptions(fipsOff(), [subscription, group], NOW).exemption?.id).toBe('rg');
    });

    it('shows an exemption that covers the waived finding, not a narrower one for another code', () => {
      const imageOnly = exemption(POOL, { id: 'image-only', codes: ['NODE_IMAGE_OUTDATED'] });
      const wide = exemption(`/subscriptions/${SUB}`, { id: 'subscription-wide' });
      const result = applyExemptions(fipsOff(), [imageOnly, wide], NOW);
      expect(result.status).toBe('exempt');
      expect(result.exemption?.id).toBe('subscription-wide');
    });

    it('ignores expired exemptions when choosing', () => {
      const expired = exemption(POOL, { id: 'expired', expiresOn: '2026-11-29T05:59:59.999Z' });
      const active = exemption(CLUSTER, { id: 'active' });
      expect(applyExemptions(fipsOff(), [expired, active], NOW).exemption?.id).toBe('active');
    });
  });
});

describe('exemption state', () => {
  const waiver = exemption(POOL, { expiresOn: '2026-12-10T00:00:00.000Z' });
  it.each([
    [NOW, 'active'],
    [new Date('2026-12-10T00:00:00.000Z'), 'expired'],
    [new Date('2026-10-01T00:00:00.000Z'), 'pending'],
  ] as const)('at %s is %s', (asOf, state) => {
    expect(exemptionState(waiver, asOf)).toBe(state);
  });

  it.each([
    [10, false],
    [11, true],
    [14, true],
  ])('counts as expiring within %i days: %s (it lapses 10 days 18 hours from now)', (days, expected) => {
    expect(expiresWithin(waiver, NOW, days)).toBe(expected);
  });

  it('does not count a lapsed exemption as expiring', () => {
    expect(expiresWithin(waiver, new Date('2026-12-11T00:00:00Z'), 14)).toBe(false);
  });
});

describe('scopes', () => {
  it.each([
    [`/subscriptions/${SUB.toUpperCase()}`, 'subscription', `/subscriptions/${SUB}`],
    [`/SUBSCRIPTIONS/${SUB}/resourcegroups/rg-Payments/`, 'resourceGroup', RG],
    [CLUSTER.replace('Microsoft.ContainerService', 'microsoft.containerservice'), 'cluster', CLUSTER],
    [POOL.replace('agentPools', 'AGENTPOOLS'), 'pool', POOL],
    [
      `/subscriptions/${SUB}/resourceGroups/rg_(prod).eu-1`,
      'resourceGroup',
      `/subscriptions/${SUB}/resourceGroups/rg_(prod).eu-1`,
    ],
  ])('reads %s as a %s scope in canonical form', (text, level, scope) => {
    expect(parseExemptionScope(text)).toEqual({ ok: true, value: { level, scope, subscriptionId: SUB } });
  });

  it.each([
    ['no leading slash', POOL.slice(1)],
    ['a subscription that is not a GUID', '/subscriptions/prod'],
    ['another resource type', `${RG}/providers/Microsoft.Compute/virtualMachines/vm1`],
    ['a providers segment without a cluster', `${RG}/providers/Microsoft.ContainerService`],
    ['a pool name AKS does not allow', `${CLUSTER}/agentPools/win_22`],
    ['a resource group ending in a dot', `/subscriptions/${SUB}/resourceGroups/rg.`],
    ['something below a pool', `${POOL}/machines/vm0`],
    ['a double slash', `/subscriptions/${SUB}//resourceGroups/rg`],
    ['the root', '/'],
  ])('refuses %s', (_what, text) => {
    expect(parseExemptionScope(text).ok).toBe(false);
  });
});

describe('expiry parsing', () => {
  it.each([
    ['2026-12-31', '2026-12-31T23:59:59.999Z'],
    ['2026-12-31T12:00:00Z', '2026-12-31T12:00:00.000Z'],
    ['2026-12-31T12:00:00+02:00', '2026-12-31T10:00:00.000Z'],
    ['2028-02-29', '2028-02-29T23:59:59.999Z'],
  ])('reads %s as %s', (text, iso) => {
    expect(parseExpiresOn(text)?.toISOString()).toBe(iso);
  });

  it.each(['2026-02-30', '2026-13-01', '2026-12-31T12:00:00', '31/12/2026', 'tomorrow', '2026-12-31 12:00Z'])(
    'refuses %s',
    (text) => {
      expect(parseExpiresOn(text)).toBeNull();
    },
  );

  it('allows up to the end of the UTC day maxDays ahead', () => {
    expect(latestExpiry(NOW, 180).toISOString()).toBe('2027-05-28T23:59:59.999Z');
  });
});

describe('validating an exemption', () => {
  const rules = { now: NOW, maxDays: 180, id: 'win22-rebuild' };
  const valid = {
    scope: POOL,
    codes: ['OS_RETIRED', 'FIPS_DISABLED', 'FIPS_DISABLED'],
    reason: 'Windows 2019 pool is rebuilt on Windows 2022 in sprint 48.\nTracked in CHG0012345.',
    ticket: 'CHG0012345',
    owner: 'platform-team@contoso.com',
    expiresOn: '2027-01-31',
  };

  it('accepts a complete exemption and normalises it', () => {
    expect(validateExemptionInput(valid, rules)).toEqual({
      ok: true,
      value: {
        scope: POOL,
        codes: ['FIPS_DISABLED', 'OS_RETIRED'],
        reason: valid.reason,
        ticket: 'CHG0012345',
        owner: 'platform-team@contoso.com',
        expiresOn: '2027-01-31T23:59:59.999Z',
      },
    });
  });

  it('accepts one without codes or ticket as covering every code, and ignores read-only fields a GET returned', () => {
    const { codes: _c, ticket: _t, ...minimal } = valid;
    const result = validateExemptionInput(
      {
        ...minimal,
        codes: null,
        id: 'WIN22-rebuild',
        createdBy: 'x',
        createdAt: 'y',
        state: 'active',
        etag: '"z"',
      },
      rules,
    );
    expect(result).toMatchObject({ ok: true, value: { codes: null, ticket: null } });
  });

  it('accepts the last day allowed and refuses the day after', () => {
    expect(validateExemptionInput({ ...valid, expiresOn: '2027-05-28' }, rules).ok).toBe(true);
    const late = validateExemptionInput({ ...valid, expiresOn: '2027-05-29' }, rules);
    expect(!late.ok && late.issues.map((i) => i.field)).toEqual(['expiresOn']);
    expect(!late.ok && late.issues[0]?.detail).toContain('more than 180 days ahead');
  });

  it('reports every problem at once', () => {
    const result = validateExemptionInput({ scope: 'nope', reason: '', expiresOn: '2020-01-01' }, rules);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues.map((i) => i.field)).toEqual([
      'scope',
      'reason',
      'owner',
      'expiresOn',
    ]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['the scope is missing', { scope: undefined }, 'scope'],
    ['the scope is not an ARM ID', { scope: 'aks-pay/win22' }, 'scope'],
    [
      'the scope names a virtual machine',
      { scope: `${RG}/providers/Microsoft.Compute/virtualMachines/vm1` },
      'scope',
    ],
    ['the scope is too long', { scope: `/subscriptions/${SUB}/resourceGroups/${'r'.repeat(600)}` }, 'scope'],
    ['codes is an empty array', { codes: [] }, 'codes'],
    ['codes holds an unknown code', { codes: ['FIPS_DISABLED', 'NOT_A_CODE'] }, 'codes'],
    ['codes is a string', { codes: 'FIPS_DISABLED' }, 'codes'],
    ['the reason is missing', { reason: undefined }, 'reason'],
    ['the reason is blank', { reason: '   ' }, 'reason'],
    ['the reason is too long', { reason: 'x'.repeat(EXEMPTION_LIMITS.reasonLength + 1) }, 'reason'],
    ['the reason has a control character', { reason: 'ok\u0007' }, 'reason'],
    ['the reason is a number', { reason: 42 }, 'reason'],
    ['the owner is missing', { owner: undefined }, 'owner'],
    ['the owner spans two lines', { owner: 'a\nb' }, 'owner'],
    ['the owner is too long', { owner: 'o'.repeat(EXEMPTION_LIMITS.ownerLength + 1) }, 'owner'],
    ['the ticket is blank', { ticket: '' }, 'ticket'],
    ['the ticket is too long', { ticket: 't'.repeat(EXEMPTION_LIMITS.ticketLength + 1) }, 'ticket'],
    ['expiresOn is missing', { expiresOn: undefined }, 'expiresOn'],
    ['expiresOn is in the past', { expiresOn: '2026-11-28' }, 'expiresOn'],
    ['expiresOn is exactly now', { expiresOn: NOW.toISOString() }, 'expiresOn'],
    ['expiresOn is too far ahead', { expiresOn: '2028-01-01' }, 'expiresOn'],
    ['expiresOn is not a real date', { expiresOn: '2027-02-30' }, 'expiresOn'],
    ['expiresOn has no offset', { expiresOn: '2027-01-01T00:00:00' }, 'expiresOn'],
    ['expiresOn is a number', { expiresOn: 1798675200000 }, 'expiresOn'],
    ['a field is misspelt', { expiresAt: '2027-01-01' }, 'expiresAt'],
    ['the body names another ID', { id: 'other' }, 'id'],
  ])('refuses an exemption when %s', (_what, change, field) => {
    const input: Record<string, unknown> = { ...valid, ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete input[k];
    const result = validateExemptionInput(input, rules);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues.map((i) => i.field)).toEqual([field]);
  });

  it.each([null, [], 'text', 7])('refuses a body that is not an object: %p', (body) => {
    expect(validateExemptionInput(body, rules)).toMatchObject({ ok: false, issues: [{ field: 'body' }] });
  });

  it.each([
    ['win22-rebuild', null],
    ['CHG0012345.win_22', null],
    ['', 'is empty'],
    ['-leading-dash', 'may hold only'],
    ['has space', 'may hold only'],
    ['a/b', 'may hold only'],
    ['x'.repeat(65), 'at most 64'],
  ])('checks the exemption ID %p', (id, problem) => {
    const result = exemptionIdProblem(id);
    if (problem === null) expect(result).toBeNull();
    else expect(result).toContain(problem);
  });
});

describe('exemption settings', () => {
  const noFile = () => {
    throw new Error('no file is read in these tests');
  };

  it('defaults to 180 days and App Service Authentication off', () => {
    const config = loadConfig({}, noFile);
    expect(config.exemptionMaxDays).toBe(180);
    expect(config.appServiceAuthEnabled).toBe(false);
  });

  it.each([
    [{ AUDIT_EXEMPTION_MAX_DAYS: '90' }, 90, false],
    [{ WEBSITE_AUTH_ENABLED: 'True' }, 180, true],
    [{ WEBSITE_AUTH_ENABLED: 'false' }, 180, false],
  ])('reads %p', (env, days, auth) => {
    const config = loadConfig(env, noFile);
    expect(config.exemptionMaxDays).toBe(days);
    expect(config.appServiceAuthEnabled).toBe(auth);
  });

  it.each([
    ['AUDIT_EXEMPTION_MAX_DAYS', '0'],
    ['AUDIT_EXEMPTION_MAX_DAYS', '3651'],
    ['AUDIT_EXEMPTION_MAX_DAYS', 'six months'],
    ['WEBSITE_AUTH_ENABLED', 'yes'],
  ])('refuses %s=%s, naming the setting with an example', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value }, noFile);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(new RegExp(`^${name} .*\\(example: ${name}=`)),
    ]);
  });
});
