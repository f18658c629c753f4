import { modelKey, type Embedder, type EmbedderInfo, type EmbedKind } from "../embed/embedder.js";
import { StoreError, errorMessage, isAbortError } from "./errors.js";

/**
 * Runs an embedder the way the store needs it: in the embedder's batch
 * size, bounded in time even when the embedder ignores its AbortSignal, and
 * with every vector checked (dimension, finite values) before anything is
 * written.
 */
export async function embedChecked(
  embedder: Embedder,
  info: EmbedderInfo,
  texts: readonly string[],
  kind: EmbedKind,
  options: { signal?: AbortSignal; timeoutMs: number },
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += embedder.maxBatchSize) {
    const batch = texts.slice(i, i + embedder.maxBatchSize);
    const vectors = await withTimeout(embedder, (signal) => embedder.embed(batch, { kind, signal }), options);
    if (vectors.length !== batch.length) {
      throw new StoreError("vector_invalid", `The embedder ${modelKey(info)} returned ${vectors.length} vectors for ${batch.length} texts; nothing was written.`);
    }
    vectors.forEach((v, j) => checkVector(v, info, i + j));
    out.push(...vectors);
  }
  return out;
}

export function checkVector(vector: Float32Array, info: EmbedderInfo, index: number): void {
  if (!(vector instanceof Float32Array) || vector.length !== info.dimension) {
    throw new StoreError(
      "vector_invalid",
      `The embedder ${modelKey(info)} returned a vector of dimension ${vector?.length ?? "none"} for text #${index + 1}, but the store holds ${info.dimension}-dimensional vectors; nothing was written. The model behind this embedder changed: re-embed the store with \`retrieval-mcp reindex\`.`,
    );
  }
  for (let d = 0; d < vector.length; d++) {
    if (!Number.isFinite(vector[d])) {
      throw new StoreError("vector_invalid", `The embedder ${modelKey(info)} returned a vector with ${vector[d]} at position ${d} for text #${index + 1}; nothing was written. This is a fault of the model or endpoint; retry, or switch embedders.`);
    }
  }
}

async function withTimeout<T>(
  embedder: Embedder,
  run: (signal: AbortSignal) => Promise<T>,
  options: { signal?: AbortSignal; timeoutMs: number },
): Promise<T> {
  const controller = new AbortController();
  // Settles on the caller's cancel or on the timeout, whether or not the
  // embedder itself honours the signal.
  const stopped = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
  });
  const onAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  const timer = setTimeout(() => {
    controller.abort(
      new StoreError(
        "embedder_failed",
        `The embedder ${modelKey(embedder)} did not answer within ${Math.round(options.timeoutMs / 1000)} s; nothing was written. Check that the model or endpoint is reachable, then retry.`,
      ),
    );
  }, options.timeoutMs);
  try {
    return await Promise.race([run(controller.signal), stopped]);
  } catch (error) {
    if (error instanceof StoreError) throw error;
    if (options.signal?.aborted || isAbortError(error)) {
      throw new StoreError("aborted", "The request was cancelled before anything was written.", { cause: error });
    }
    throw new StoreError("embedder_failed", `The embedder ${modelKey(embedder)} failed: ${errorMessage(error)}. Nothing was written; retry, or check the embedder's configuration.`, { cause: error });
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}
