/** What a store records about the model that produced its vectors. */
export interface EmbedderInfo {
  provider: string;
  model: string;
  dimension: number;
  /** Distance the vectors are compared with; unit vectors use `dot`. */
  distance: "dot" | "cosine";
  normalized: boolean;
}

/** Documents and queries may be embedded differently (E5 prefixes, BGE instructions). */
export type EmbedKind = "document" | "query";

export interface EmbedOptions {
  kind: EmbedKind;
  signal?: AbortSignal;
}

/**
 * A text embedding model. `provider` and `model` are known without loading
 * anything, so a store can check its model binding cheaply; `load()` does the
 * expensive part (weights, first request) and is called on first use.
 */
export interface Embedder {
  readonly provider: string;
  readonly model: string;
  /** Largest number of texts worth sending in one `embed` call. */
  readonly maxBatchSize: number;
  load(signal?: AbortSignal): Promise<EmbedderInfo>;
  /** While a load runs: what it is doing, e.g. "downloading onnx/model.onnx: 45% of 90.4 MB"; null when nothing to say. */
  loadProgress?(): string | null;
  /** One vector per text, in order. Implementations honour `signal` between batches at least. */
  embed(texts: readonly string[], options: EmbedOptions): Promise<Float32Array[]>;
  close?(): Promise<void>;
}

/** `provider:model`: how a model is named in bindings, messages and `--embedder` specs. */
export function modelKey(model: Pick<EmbedderInfo, "provider" | "model">): string {
  return `${model.provider}:${model.model}`;
}

export class EmbedderError extends Error {
  override readonly name = "EmbedderError";
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw signal.reason instanceof Error ? signal.reason : new DOMException("The operation was aborted", "AbortError");
  }
}
