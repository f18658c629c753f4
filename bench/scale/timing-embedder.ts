import type { Embedder, EmbedderInfo, EmbedOptions } from "../../src/embed/embedder.js";

/**
 * An embedder that reports how long the store spent embedding: the wall
 * time during which at least one `embed` call was running. Subtracted from
 * an ingest's wall time it gives the store's own cost, "embedding
 * excluded", measured on the very calls the store made rather than
 * estimated from a separate run. Overlapping calls (an embedder that
 * awaits I/O) count once.
 */
export class TimingEmbedder implements Embedder {
  readonly provider: string;
  readonly model: string;
  readonly maxBatchSize: number;
  private active = 0;
  private busySince = 0;
  private busy = 0;

  constructor(private readonly inner: Embedder) {
    this.provider = inner.provider;
    this.model = inner.model;
    this.maxBatchSize = inner.maxBatchSize;
  }

  /** Milliseconds during which some embedding was under way, since this embedder was made. */
  get busyMs(): number {
    return this.busy + (this.active > 0 ? performance.now() - this.busySince : 0);
  }

  load(signal?: AbortSignal): Promise<EmbedderInfo> {
    return this.inner.load(signal);
  }

  async embed(texts: readonly string[], options: EmbedOptions): Promise<Float32Array[]> {
    if (this.active++ === 0) this.busySince = performance.now();
    try {
      return await this.inner.embed(texts, options);
    } finally {
      if (--this.active === 0) this.busy += performance.now() - this.busySince;
    }
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}
