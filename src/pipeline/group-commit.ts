export interface GroupCommitOptions<T = unknown> {
  /** Items per statement at most. */
  maxBatch?: number;
  /** Statements in flight at once (each its own connection). */
  concurrency?: number;
  /** Whether a failed batch is retried one item at a time (default: always). */
  retryAlone?: (error: unknown) => boolean;
  /**
   * Looked at as a batch is taken from the queue: an item given an Error is answered with it at
   * once and left out of the batch (a caller that waited too long for its turn is not held until
   * the others' statement ends).
   */
  refuse?: (item: T) => Error | undefined;
}

interface Waiter<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit for one-row statements that many concurrent callers issue (a worker pool finishing
 * jobs, an API placing orders): the calls made while the statements in flight run wait and go
 * into the next one, together. One round trip and one commit serve a batch instead of one each;
 * when nothing is in flight a call's statement starts at once. A batch that fails is retried one
 * item at a time, so one bad item fails only its own caller. `write` may answer per item (an
 * Error rejects that item's caller alone).
 */
export class GroupCommit<T, R = void> {
  private queue: Waiter<T, R>[] = [];
  /** Drains running; changed only synchronously next to the queue checks, so no add is missed. */
  private active = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly maxBatch: number;
  private readonly concurrency: number;
  private readonly retryAlone: (error: unknown) => boolean;
  private readonly refuse: (item: T) => Error | undefined;

  constructor(
    private readonly write: (items: T[]) => Promise<(R | Error)[] | void>,
    options: GroupCommitOptions<T> = {},
  ) {
    this.maxBatch = options.maxBatch ?? 100;
    this.concurrency = options.concurrency ?? 1;
    this.retryAlone = options.retryAlone ?? (() => true);
    this.refuse = options.refuse ?? (() => undefined);
  }

  /** Resolves once the item's batch committed (with its answer, if `write` gives one). */
  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.active < this.concurrency) {
        this.active++;
        void this.drain();
      }
    });
  }

  /** Resolves once nothing is queued or being written. */
  async idle(): Promise<void> {
    if (this.active > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  /** Never rejects: every error goes to the callers of its batch. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch).filter((b) => {
        const refused = this.refuse(b.item);
        if (refused) b.reject(refused);
        return !refused;
      });
      if (batch.length === 0) continue;
      try {
        await this.settle(batch);
      } catch (e) {
        if (batch.length === 1 || !this.retryAlone(e)) for (const b of batch) b.reject(e);
        else for (const b of batch) await this.settle([b]).catch(b.reject);
      }
    }
    // No await between the last look at the queue and here.
    this.active--;
    if (this.active === 0) for (const r of this.idleWaiters.splice(0)) r();
  }

  private async settle(batch: Waiter<T, R>[]): Promise<void> {
    const answers = await this.write(batch.map((b) => b.item));
    batch.forEach((b, i) => {
      const a = answers?.[i];
      if (a instanceof Error) b.reject(a);
      else b.resolve(a as R);
    });
  }
}
