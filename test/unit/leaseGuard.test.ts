// LeaseGuard tells a lease another run took (the stage ends) from one that only expired unrenewed (it is retried).

import { LeaseGuard, LeaseLostError } from '../../src/pipeline/leaseGuard';
import { MemoryLeaseStore } from '../../src/store/memoryStores';

const TTL = 10_000;

/** A guard over a memory lease held by one run, on a clock the test moves; `outage` makes renewals fail. */
async function setup() {
  let now = Date.parse('2026-11-29T04:00:00Z');
  const clock = () => new Date(now);
  const store = new MemoryLeaseStore();
  const lease = await store.acquire('20261129T040000Z-000001', { ttlInMs: TTL, now: clock() });
  if (!lease.acquired) throw new Error('not acquired');
  let failRenewals = false;
  const guarded = {
    renew: (...args: Parameters<MemoryLeaseStore['renew']>) =>
      failRenewals ? Promise.reject(new Error('connect ECONNREFUSED')) : store.renew(...args),
  };
  const guard = new LeaseGuard(guarded, '20261129T040000Z-000001', lease.generation, {
    ttlInMs: TTL,
    now: clock,
  });
  await guard.start();
  guard.stop(); // the test renews through check() alone
  return {
    guard,
    store,
    advance: (ms: number) => (now += ms),
    clock,
    outage: (on: boolean) => (failRenewals = on),
  };
}

async function lossOf(guard: LeaseGuard): Promise<LeaseLostError> {
  try {
    await guard.check();
  } catch (error) {
    if (error instanceof LeaseLostError) return error;
    throw error;
  }
  throw new Error('check() passed');
}

describe('LeaseGuard.check', () => {
  it('passes while the lease is held, renewing it as its confirmed expiry nears', async () => {
    const { guard, advance } = await setup();
    for (let i = 0; i < 5; i++) {
      advance(TTL * 0.8);
      await expect(guard.check()).resolves.toBeUndefined();
    }
    expect(guard.signal.aborted).toBe(false);
  });

  it('after another run took the lease over: lost for good (not expired), and the signal aborts', async () => {
    const { guard, store, advance, clock } = await setup();
    advance(TTL + 1);
    await store.acquire('20261129T040011Z-000002', { ttlInMs: TTL, now: clock() });
    const lost = await lossOf(guard);
    expect(lost.expired).toBe(false);
    expect(lost.message).toContain('another run took it over');
    expect(guard.signal.aborted).toBe(true);
    await expect(guard.check()).rejects.toBe(lost);
  });

  it('when renewals fail until the lease expired: expired, so the stage is retried rather than ended', async () => {
    const { guard, advance, outage } = await setup();
    outage(true);
    advance(TTL * 0.8);
    // Not expired yet: the lease is still ours, whatever storage says.
    await expect(guard.check()).resolves.toBeUndefined();
    advance(TTL * 0.3);
    const lost = await lossOf(guard);
    expect(lost.expired).toBe(true);
    expect(lost.message).toContain('could not be renewed before it expired');
  });

  it('a new guard of the same run and generation holds the lease again once storage answers, if nobody took it', async () => {
    const { guard, store, advance, outage, clock } = await setup();
    outage(true);
    advance(TTL * 2);
    expect((await lossOf(guard)).expired).toBe(true);
    outage(false);
    const again = new LeaseGuard(store, guard.runId, guard.generation, { ttlInMs: TTL, now: clock });
    await expect(again.start()).resolves.toBeUndefined();
    again.stop();
    await expect(again.check()).resolves.toBeUndefined();
  });
});
