import type { Embedder, EmbedderInfo, EmbedOptions } from "./embedder.js";
import { throwIfAborted } from "./embedder.js";
import { OfflineEmbedder } from "./offline.js";
import { resolveModelFiles, type EmbedderOptions } from "./options.js";
import { DEFAULT_TRANSFORMERS_MODEL, TransformersEmbedder } from "./transformers.js";
import { ModelUnavailableError } from "./transformers-runtime.js";

/** `auto` waits this long for the default model to download before settling for the offline one. */
export const AUTO_DOWNLOAD_TIMEOUT_MS = 120_000;

/**
 * The default embedder of a new store: the transformers default model when
 * it loads (from the cache, a model path, or a download bounded in time),
 * else the offline model. Until the first load it reports itself as
 * `auto`; after it, as the chosen provider and model, which is what the
 * store binds, so reopening the store names the real model.
 */
export class AutoEmbedder implements Embedder {
  private chosen: Embedder | null = null;
  private choosing: Promise<Embedder> | null = null;
  /** The candidate being tried, for progress. */
  private trying: Embedder | null = null;

  constructor(private readonly options: EmbedderOptions = {}) {}

  get provider(): string {
    return this.chosen?.provider ?? "auto";
  }

  get model(): string {
    return this.chosen?.model ?? "unchosen";
  }

  get maxBatchSize(): number {
    return this.chosen?.maxBatchSize ?? 32;
  }

  async load(signal?: AbortSignal): Promise<EmbedderInfo> {
    return (await this.choose(signal)).load(signal);
  }

  loadProgress(): string | null {
    const trying = this.trying;
    if (!trying) return null;
    const detail = trying.loadProgress?.();
    return `auto: trying ${trying.provider}:${trying.model}${detail ? ` (${detail})` : ""}`;
  }

  async embed(texts: readonly string[], options: EmbedOptions): Promise<Float32Array[]> {
    return (await this.choose(options.signal)).embed(texts, options);
  }

  async close(): Promise<void> {
    await this.chosen?.close?.();
  }

  private choose(signal?: AbortSignal): Promise<Embedder> {
    this.choosing ??= this.pick(signal);
    this.choosing.catch(() => (this.choosing = null));
    return this.choosing;
  }

  private async pick(signal?: AbortSignal): Promise<Embedder> {
    const files = resolveModelFiles(this.options);
    const preferred = new TransformersEmbedder(DEFAULT_TRANSFORMERS_MODEL, {
      ...this.options,
      downloadTimeoutMs: this.options.downloadTimeoutMs ?? AUTO_DOWNLOAD_TIMEOUT_MS,
    });
    let chosen: Embedder;
    try {
      this.trying = preferred;
      const info = await preferred.load(signal);
      chosen = preferred;
      files.log(`embedder auto: using transformers:${DEFAULT_TRANSFORMERS_MODEL} (${info.dimension}-d), the default local model.`);
    } catch (error) {
      throwIfAborted(signal);
      await preferred.close();
      const fallback = new OfflineEmbedder();
      this.trying = fallback;
      const info = await fallback.load(signal);
      chosen = fallback;
      // One line: the long install hint of a failed download is for people who asked for transformers.
      const reason = error instanceof ModelUnavailableError ? error.reason : error instanceof Error ? error.message : String(error);
      files.log(
        `embedder auto: transformers:${DEFAULT_TRANSFORMERS_MODEL} is unavailable (${reason}); using offline:${fallback.model} (${info.dimension}-d, ships with the package). ` +
          "The store is now bound to it; to upgrade later, run `retrieval-mcp reindex --embedder transformers`.",
      );
    } finally {
      this.trying = null;
    }
    this.chosen = chosen;
    return chosen;
  }
}
