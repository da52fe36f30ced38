/**
 * Group commit for one-row statements that many concurrent callers issue (a worker pool finishing
 * jobs): the calls made while a statement runs wait and go into the next one, together. One round
 * trip and one commit serve a batch instead of one each; an idle caller's statement runs at once.
 * A batch that fails is retried one item at a time, so one bad item fails only its own caller.
 */
export class GroupCommit<T> {
  private queue: { item: T; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly maxBatch = 100,
  ) {}

  /** Resolves once the item's batch committed; rejects with its own error. */
  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.running ??= this.drain();
    });
  }

  /** Resolves once nothing is queued or being written. */
  async idle(): Promise<void> {
    await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          await this.write(batch.map((b) => b.item));
          for (const b of batch) b.resolve();
        } catch (e) {
          if (batch.length === 1) batch[0]?.reject(e);
          else
            for (const b of batch)
              await this.write([b.item]).then(b.resolve, (err: unknown) => b.reject(err));
        }
      }
    } finally {
      // No await between the last look at the queue and here: an add cannot fall in between.
      this.running = undefined;
    }
  }
}
