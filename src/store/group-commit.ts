/**
 * Group commit: callers submit batches; while one flush runs, later
 * submissions queue up and the next flush takes them all at once. Under
 * load many small writes share one Lance commit; when idle a write is
 * flushed immediately, with no added delay.
 */
export class GroupCommitter<T> {
  private queue: { items: T[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private running: Promise<void> | null = null;

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    /** A flush takes whole submissions until it holds at least this many items. */
    private readonly maxItems: number,
  ) {}

  submit(items: T[]): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.queue.push({ items, resolve, reject }));
    this.running ??= this.drain();
    return done;
  }

  /** Resolves once everything submitted so far has been flushed or failed. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        let count = 0;
        let take = 0;
        while (take < this.queue.length && (take === 0 || count + this.queue[take]!.items.length <= this.maxItems)) {
          count += this.queue[take]!.items.length;
          take++;
        }
        const group = this.queue.splice(0, take);
        try {
          await this.flush(group.flatMap((g) => g.items));
          for (const g of group) g.resolve();
        } catch (error) {
          for (const g of group) g.reject(error);
        }
      }
    } finally {
      this.running = null;
    }
  }
}
