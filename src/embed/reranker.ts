import type { PreTrainedModel, PreTrainedTokenizer, Tensor } from "@huggingface/transformers";
import { EmbedderSpecError } from "./from-spec.js";
import { resolveModelFiles, type EmbedderOptions } from "./options.js";
import { LazyModel, hubOf } from "./transformers-runtime.js";
import { yieldToEventLoop } from "./vector.js";

/** A model that scores how well a text answers a query, reading both together. */
export interface Reranker {
  /** provider:model, as given to --reranker. */
  readonly name: string;
  load(signal?: AbortSignal): Promise<void>;
  loadProgress?(): string | null;
  /** One relevance score per text, 0..1, higher is better. */
  score(query: string, texts: readonly string[], signal?: AbortSignal): Promise<number[]>;
  close?(): Promise<void>;
}

export const DEFAULT_RERANKER_MODEL = "Xenova/ms-marco-MiniLM-L-6-v2";
/** Pairs per forward pass: small steps keep the event loop responsive between them. */
const STEP = 8;

/** `transformers[:<model>]`, the only provider of cross-encoders so far. */
export function rerankerFromSpec(spec: string, options: EmbedderOptions = {}): Reranker {
  const [provider, ...rest] = spec.trim().split(":");
  const model = rest.join(":").trim();
  if (provider !== "transformers") {
    throw new EmbedderSpecError(`Invalid reranker "${spec}": use transformers[:<model>], e.g. transformers:${DEFAULT_RERANKER_MODEL} (a cross-encoder in ONNX).`);
  }
  return new TransformersReranker(model || DEFAULT_RERANKER_MODEL, options);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * A cross-encoder through transformers.js (e.g. ms-marco-MiniLM): each
 * (query, text) pair goes through the model together and its logit,
 * squashed to 0..1, is the score. Loaded, cached and downloaded like the
 * transformers embedder's models.
 */
export class TransformersReranker implements Reranker {
  readonly name: string;
  private readonly lazy: LazyModel<{ tokenizer: PreTrainedTokenizer; model: PreTrainedModel }>;

  constructor(
    readonly model: string,
    options: EmbedderOptions = {},
  ) {
    this.name = `transformers:${model}`;
    this.lazy = new LazyModel({
      model,
      files: resolveModelFiles(options),
      hub: hubOf(options.env),
      create: async ({ AutoTokenizer, AutoModelForSequenceClassification }, loadOptions) => ({
        tokenizer: await AutoTokenizer.from_pretrained(model, loadOptions),
        model: await AutoModelForSequenceClassification.from_pretrained(model, loadOptions),
      }),
    });
  }

  async load(signal?: AbortSignal): Promise<void> {
    await this.lazy.get(signal);
  }

  loadProgress(): string | null {
    return this.lazy.progress();
  }

  async score(query: string, texts: readonly string[], signal?: AbortSignal): Promise<number[]> {
    const { tokenizer, model } = await this.lazy.get(signal);
    const scores: number[] = [];
    for (let i = 0; i < texts.length; i += STEP) {
      signal?.throwIfAborted();
      const batch = texts.slice(i, i + STEP);
      const inputs = tokenizer(new Array<string>(batch.length).fill(query), { text_pair: [...batch], padding: true, truncation: true });
      const { logits } = (await model(inputs)) as { logits: Tensor };
      const [rows, labels] = logits.dims as [number, number];
      const data = logits.data as Float32Array;
      // One logit: relevance. Two (irrelevant, relevant): the second.
      for (let r = 0; r < rows; r++) scores.push(sigmoid(data[r * labels + labels - 1]!));
      if (i + STEP < texts.length) await yieldToEventLoop();
    }
    return scores;
  }

  async close(): Promise<void> {
    await this.lazy.close(({ model }) => model.dispose());
  }
}
