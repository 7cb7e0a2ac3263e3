// The pool spool: judged pools wait in a temporary file and come back in groups of whole buckets, in key order.

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { PoolResult } from '../../src/core/types';
import { PoolSpool } from '../../src/pipeline/poolSpool';
import { handPool } from '../support/reportFixture';

const folder = mkdtempSync(join(tmpdir(), 'spool-test-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const pool = (subscription: string, i: number): PoolResult =>
  handPool({
    id: `/subscriptions/${subscription}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c${i}/agentPools/p${i}`,
    subscriptionId: subscription,
  });
const bucketOf = (p: PoolResult) => p.subscriptionId.slice(0, 2);

it('gives back every pool once, buckets in key order, in groups of whole buckets of at most the bound', async () => {
  const spool = new PoolSpool(bucketOf, { directory: folder });
  const subscriptions = ['c0', 'a0', 'b0', 'a1', 'ff'];
  // Pages arrive in any order; each page mixes buckets.
  for (let page = 0; page < 6; page++) {
    await spool.add(
      subscriptions.map((s, i) => ({
        pool: pool(`${s}-sub`, page * 10 + i),
        scope: page === 5 ? null : `/subscriptions/${s}`,
      })),
    );
  }
  expect(spool.pools).toBe(30);
  expect(spool.bytes).toBeGreaterThan(0);

  const groups: string[][] = [];
  let unread = 0;
  for await (const group of spool.readGroups(12)) {
    groups.push([...new Set(group.map(({ pool: p }) => bucketOf(p)))]);
    expect(group.length).toBeLessThanOrEqual(12);
    unread += group.filter((g) => g.scope === null).length;
  }
  expect(groups.flat()).toEqual(['a0', 'a1', 'b0', 'c0', 'ff']);
  expect(groups.every((g) => g.length <= 2)).toBe(true);
  expect(unread).toBe(5);
  await spool.close();
  expect(readdirSync(folder)).toEqual([]);
});

it('puts a bucket larger than the bound in a group of its own', async () => {
  const spool = new PoolSpool(bucketOf, { directory: folder });
  await spool.add(Array.from({ length: 25 }, (_, i) => ({ pool: pool('aa-big', i), scope: '/' })));
  await spool.add([{ pool: pool('bb-small', 99), scope: '/' }]);
  const sizes: number[] = [];
  for await (const group of spool.readGroups(10)) sizes.push(group.length);
  expect(sizes).toEqual([25, 1]);
  await spool.close();
  await spool.close();
  expect(existsSync(folder)).toBe(true);
  await expect(spool.add([])).rejects.toThrow(/closed/);
});

it('writes nothing to disk until a page comes', async () => {
  const spool = new PoolSpool(bucketOf, { directory: folder });
  const groups: unknown[] = [];
  for await (const group of spool.readGroups(10)) groups.push(group);
  expect(groups).toEqual([]);
  expect(readdirSync(folder)).toEqual([]);
  await spool.close();
});
