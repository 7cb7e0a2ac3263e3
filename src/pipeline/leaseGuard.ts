// Holds the audit lease while a stage works: renews it on a timer, and fences every write behind a live lease.

import { describeError } from '../errors';
import type { LeaseStore } from '../store/leaseStore';

/**
 * The run can no longer prove it holds the lease: the worker must stop writing at once. `expired` says whether
 * that is all that is known (the lease could not be renewed before it expired: storage unreachable, or the worker
 * stalled): nobody may have taken it, so the stage is retried, and its next delivery either holds the same lease
 * again or finds the run taken over. Otherwise another run holds it, or the run released it: the stage ends.
 */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(
    readonly runId: string,
    reason: string,
    readonly expired: boolean,
  ) {
    super(`Run ${runId} no longer holds the audit lease (${reason}); it stops writing`);
  }
}

export interface LeaseGuardOptions {
  ttlInMs: number;
  now?: () => Date;
  log?: (message: string) => void;
}

/**
 * A stage's hold on the lease of run `runId` at `generation`. It renews every quarter of the TTL; `check()`,
 * called before every write, throws LeaseLostError once the lease is known lost, and also once the last confirmed
 * expiry has come near (a worker that stalled past its lease must prove it still holds it before writing again).
 * `signal` aborts with the loss, so requests in flight stop too.
 */
export class LeaseGuard {
  private readonly controller = new AbortController();
  private confirmedUntil: number;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private lost: LeaseLostError | undefined;
  private readonly now: () => Date;
  private readonly log: (message: string) => void;

  constructor(
    private readonly store: Pick<LeaseStore, 'renew'>,
    readonly runId: string,
    readonly generation: number,
    private readonly options: LeaseGuardOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.log = options.log ?? (() => undefined);
    this.confirmedUntil = 0;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Renews once (proving the lease is held) and then every quarter of the TTL until `stop`. */
  async start(): Promise<void> {
    await this.renew();
    this.throwIfLost();
    this.timer = setInterval(() => void this.renew(), this.options.ttlInMs / 4);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Throws LeaseLostError unless the lease is held; renews first when its confirmed expiry is near. */
  async check(): Promise<void> {
    this.throwIfLost();
    if (this.now().getTime() > this.confirmedUntil - this.options.ttlInMs / 4) await this.renew();
    if (this.now().getTime() >= this.confirmedUntil) this.markExpired();
    this.throwIfLost();
  }

  private throwIfLost(): void {
    if (this.lost) throw this.lost;
  }

  private renew(): Promise<void> {
    this.renewing ??= (async () => {
      const startedAt = this.now();
      try {
        const outcome = await this.store.renew(this.runId, this.generation, {
          ttlInMs: this.options.ttlInMs,
          now: startedAt,
        });
        if (outcome === 'lost') this.markLost('another run took it over, or it was released', false);
        else this.confirmedUntil = startedAt.getTime() + this.options.ttlInMs;
      } catch (error) {
        // Storage may be briefly down: the lease stays ours until it expires, and check() stops writes then.
        this.log(`Could not renew the lease of run ${this.runId}: ${describeError(error)}`);
        if (this.now().getTime() >= this.confirmedUntil) this.markExpired();
      } finally {
        this.renewing = undefined;
      }
    })();
    return this.renewing;
  }

  private markExpired(): void {
    this.markLost('it could not be renewed before it expired', true);
  }

  private markLost(reason: string, expired: boolean): void {
    if (this.lost) return;
    this.lost = new LeaseLostError(this.runId, reason, expired);
    this.log(this.lost.message);
    this.stop();
    this.controller.abort(this.lost);
  }
}
