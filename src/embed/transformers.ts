import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FeatureExtractionPipeline } from "@huggingface/transformers";
import type { Embedder, EmbedderInfo, EmbedOptions } from "./embedder.js";
import { throwIfAborted } from "./embedder.js";
import { resolveModelFiles, type EmbedderOptions, type ResolvedModelFiles } from "./options.js";
import { applyPrefix, prefixesFor, type Prefixes } from "./prefixes.js";
import { hubOf, loadTransformersModel } from "./transformers-runtime.js";
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
  private readonly files: ResolvedModelFiles;
  private readonly hub: string;
  private readonly prefixes: Prefixes;
  private loading: Promise<{ extractor: FeatureExtractionPipeline; info: EmbedderInfo }> | null = null;
  private pooling: Pooling = "mean";
  private progress: string | null = null;

  constructor(
    readonly model: string = DEFAULT_TRANSFORMERS_MODEL,
    options: EmbedderOptions = {},
  ) {
    this.files = resolveModelFiles(options);
    this.hub = hubOf(options.env);
    this.prefixes = prefixesFor(model);
  }

  async load(signal?: AbortSignal): Promise<EmbedderInfo> {
    return (await this.loaded(signal)).info;
  }

  loadProgress(): string | null {
    return this.progress;
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
    const loading = this.loading;
    this.loading = null;
    if (loading) await loading.then(({ extractor }) => extractor.dispose(), () => undefined);
  }

  private async run(extractor: FeatureExtractionPipeline, texts: string[]): Promise<Float32Array[]> {
    const output = await extractor(texts, { pooling: this.pooling, normalize: true });
    const [rows, dimension] = output.dims as [number, number];
    const data = output.data as Float32Array;
    return Array.from({ length: rows }, (_, r) => data.slice(r * dimension, (r + 1) * dimension));
  }

  private loaded(signal?: AbortSignal): Promise<{ extractor: FeatureExtractionPipeline; info: EmbedderInfo }> {
    throwIfAborted(signal);
    if (!this.loading) {
      const loading = this.open(signal);
      this.loading = loading;
      loading.catch(() => {
        if (this.loading === loading) this.loading = null;
      });
    }
    return this.loading;
  }

  private async open(signal?: AbortSignal): Promise<{ extractor: FeatureExtractionPipeline; info: EmbedderInfo }> {
    this.pooling = poolingFor(this.model, [this.files.modelPath, this.files.cacheDir]);
    this.progress = "starting transformers.js";
    try {
      const extractor = await loadTransformersModel({
        model: this.model,
        files: this.files,
        hub: this.hub,
        signal,
        onProgress: (detail) => (this.progress = detail),
        create: ({ pipeline }, options) => pipeline("feature-extraction", this.model, options),
      });
      const [probe] = await this.run(extractor, ["dimension probe"]);
      return { extractor, info: { provider: this.provider, model: this.model, dimension: probe!.length, distance: "dot", normalized: true } };
    } finally {
      this.progress = null;
    }
  }
}
