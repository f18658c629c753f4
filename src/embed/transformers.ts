import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FeatureExtractionPipeline } from "@huggingface/transformers";
import type { Embedder, EmbedderInfo, EmbedOptions } from "./embedder.js";
import { throwIfAborted } from "./embedder.js";
import { resolveModelFiles, type EmbedderOptions } from "./options.js";
import { applyPrefix, prefixesFor, type Prefixes } from "./prefixes.js";
import { LazyModel, hubOf } from "./transformers-runtime.js";
import { yieldToEventLoop } from "./vector.js";

export const DEFAULT_TRANSFORMERS_MODEL = "Xenova/all-MiniLM-L6-v2";
/** Tokenisation runs on the JS thread; steps this small keep it to a few milliseconds at a time. */
const STEP = 8;

type Pooling = "mean" | "cls" | "last_token";

/**
 * sentence-transformers models describe their pooling in 1_Pooling/config.json;
 * ONNX conversions often leave that file out, so known CLS-pooled families
 * are recognised by name and everything else is mean-pooled.
 */
function poolingFor(model: string, dirs: readonly (string | undefined)[]): Pooling {
  for (const dir of dirs) {
    const file = dir && join(dir, model, "1_Pooling", "config.json");
    if (!file || !existsSync(file)) continue;
    const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    if (config.pooling_mode_cls_token) return "cls";
    if (config.pooling_mode_lasttoken) return "last_token";
    if (config.pooling_mode_mean_tokens) return "mean";
  }
  return /(^|\/)(bge-|mxbai-embed|snowflake-arctic-embed)/i.test(model) ? "cls" : "mean";
}

/**
 * Local ONNX inference through transformers.js: the model's pooling, then L2
 * normalisation. Nothing is imported or read until the first use, so the
 * server answers `initialize` before any model loads.
 */
export class TransformersEmbedder implements Embedder {
  readonly provider = "transformers";
  readonly maxBatchSize = 32;
  private readonly prefixes: Prefixes;
  private readonly lazy: LazyModel<{ extractor: FeatureExtractionPipeline; info: EmbedderInfo }>;
  private pooling: Pooling = "mean";

  constructor(
    readonly model: string = DEFAULT_TRANSFORMERS_MODEL,
    options: EmbedderOptions = {},
  ) {
    const files = resolveModelFiles(options);
    this.prefixes = prefixesFor(model);
    this.lazy = new LazyModel({
      model,
      files,
      hub: hubOf(options.env),
      create: async ({ pipeline }, loadOptions) => {
        this.pooling = poolingFor(model, [files.modelPath, files.cacheDir]);
        const extractor = await pipeline("feature-extraction", model, loadOptions);
        const [probe] = await this.run(extractor, ["dimension probe"]);
        return { extractor, info: { provider: this.provider, model, dimension: probe!.length, distance: "dot", normalized: true } };
      },
    });
  }

  async load(signal?: AbortSignal): Promise<EmbedderInfo> {
    return (await this.loaded(signal)).info;
  }

  loadProgress(): string | null {
    return this.lazy.progress();
  }

  async embed(texts: readonly string[], options: EmbedOptions): Promise<Float32Array[]> {
    const { extractor } = await this.loaded(options.signal);
    const input = applyPrefix(texts, this.prefixes, options.kind);
    const out: Float32Array[] = [];
    for (let i = 0; i < input.length; i += STEP) {
      throwIfAborted(options.signal);
      out.push(...(await this.run(extractor, input.slice(i, i + STEP))));
      if (i + STEP < input.length) await yieldToEventLoop();
    }
    return out;
  }

  async close(): Promise<void> {
    await this.lazy.close(({ extractor }) => extractor.dispose());
  }

  private async run(extractor: FeatureExtractionPipeline, texts: string[]): Promise<Float32Array[]> {
    const output = await extractor(texts, { pooling: this.pooling, normalize: true });
    const [rows, dimension] = output.dims as [number, number];
    const data = output.data as Float32Array;
    return Array.from({ length: rows }, (_, r) => data.slice(r * dimension, (r + 1) * dimension));
  }

  private loaded(signal?: AbortSignal): Promise<{ extractor: FeatureExtractionPipeline; info: EmbedderInfo }> {
    throwIfAborted(signal);
    return this.lazy.get(signal);
  }
}
