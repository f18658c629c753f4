import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FeatureExtractionPipeline, ProgressInfo } from "@huggingface/transformers";
import type { Embedder, EmbedderInfo, EmbedOptions } from "./embedder.js";
import { EmbedderError, throwIfAborted } from "./embedder.js";
import { resolveModelFiles, type EmbedderOptions, type ResolvedModelFiles } from "./options.js";
import { applyPrefix, prefixesFor, type Prefixes } from "./prefixes.js";
import { yieldToEventLoop } from "./vector.js";

export const DEFAULT_TRANSFORMERS_MODEL = "Xenova/all-MiniLM-L6-v2";
const DEFAULT_HUB = "https://huggingface.co";
/** The files a feature-extraction model needs; named in the install-by-hand instructions. */
export const MODEL_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"] as const;
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

/** transformers.js configures itself through one global `env`; loads take turns so each sees its own settings. */
let loadQueue: Promise<unknown> = Promise.resolve();

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

  constructor(
    readonly model: string = DEFAULT_TRANSFORMERS_MODEL,
    options: EmbedderOptions = {},
  ) {
    this.files = resolveModelFiles(options);
    this.hub = ((options.env ?? process.env).HF_ENDPOINT || DEFAULT_HUB).replace(/\/+$/, "");
    this.prefixes = prefixesFor(model);
  }

  async load(signal?: AbortSignal): Promise<EmbedderInfo> {
    return (await this.loaded(signal)).info;
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
      const loading = loadQueue.then(() => this.open(signal));
      loadQueue = loading.catch(() => undefined);
      this.loading = loading;
      loading.catch(() => {
        if (this.loading === loading) this.loading = null;
      });
    }
    return this.loading;
  }

  private async open(signal?: AbortSignal): Promise<{ extractor: FeatureExtractionPipeline; info: EmbedderInfo }> {
    const { pipeline, env, LogLevel } = await import("@huggingface/transformers");
    const { cacheDir, modelPath, offline, downloadTimeoutMs, log } = this.files;
    const downloads = new Download(this.model, cacheDir, log, signal, downloadTimeoutMs);
    Object.assign(env, {
      // Its own warnings (e.g. "not found at the local path" before a cache hit) would read as failures.
      logLevel: LogLevel.ERROR,
      allowLocalModels: true,
      localModelPath: modelPath ?? cacheDir,
      allowRemoteModels: !offline,
      remoteHost: this.hub,
      useFSCache: true,
      cacheDir,
      fetch: downloads.fetch,
    });
    this.pooling = poolingFor(this.model, [modelPath, cacheDir]);
    let extractor: FeatureExtractionPipeline;
    try {
      extractor = await pipeline("feature-extraction", this.model, {
        dtype: "fp32",
        device: "cpu",
        cache_dir: cacheDir,
        local_files_only: offline,
        progress_callback: downloads.progress,
      });
    } catch (error) {
      throwIfAborted(signal);
      throw new EmbedderError(this.installHint(error, downloads.failure), { cause: error });
    } finally {
      downloads.finish();
    }
    const [probe] = await this.run(extractor, ["dimension probe"]);
    return {
      extractor,
      info: { provider: this.provider, model: this.model, dimension: probe!.length, distance: "dot", normalized: true },
    };
  }

  private installHint(error: unknown, downloadFailure: string | null): string {
    const { cacheDir, modelPath, offline } = this.files;
    const reason = downloadFailure ?? (error instanceof Error ? error.message : String(error));
    const where = offline ? "offline mode is on, so nothing was downloaded" : `downloading from ${this.hub} failed`;
    return (
      `The model ${this.model} could not be loaded (${where}: ${reason}). ` +
      `To install it by hand, download ${MODEL_FILES.join(", ")} from ${this.hub}/${this.model}/tree/main ` +
      `into ${join(modelPath ?? cacheDir, this.model)}/ (keep the onnx/ subfolder)` +
      (modelPath ? "" : `, or into <dir>/${this.model}/ and start with --model-path <dir> (RETRIEVAL_MCP_MODEL_DIR)`) +
      `. Or use --embedder offline, whose model ships with the package.`
    );
  }
}

/**
 * The network side of one load: bounds every download by the load's signal
 * and a deadline, and reports progress on stderr for files actually fetched
 * (cache and local hits raise the same events, but are not downloads).
 */
class Download {
  failure: string | null = null;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly fetched = new Map<string, number>();
  private readonly onAbort: () => void;

  constructor(
    private readonly model: string,
    private readonly cacheDir: string,
    private readonly log: (line: string) => void,
    private readonly signal: AbortSignal | undefined,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(() => this.controller.abort(new EmbedderError(`no complete download within ${timeoutMs / 1000} s`)), timeoutMs);
    this.timer.unref();
    this.onAbort = () => this.controller.abort(signal?.reason);
    signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  readonly fetch = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const file = url.split("/resolve/").at(1)?.replace(/^[^/]+\//, "") ?? url;
    if (!this.fetched.has(file)) {
      this.fetched.set(file, -1);
      this.log(`downloading ${this.model} (${file}) into ${this.cacheDir}`);
    }
    try {
      return await fetch(input, { ...init, signal: this.controller.signal });
    } catch (error) {
      const reason = this.controller.signal.reason ?? error;
      this.failure ??= `${url}: ${reason instanceof Error ? (reason.cause instanceof Error ? reason.cause.message : reason.message) : String(reason)}`;
      throw error;
    }
  };

  readonly progress = (info: ProgressInfo): void => {
    if (info.status === "progress" && this.fetched.has(info.file)) {
      const quarter = Math.floor(info.progress / 25);
      if (quarter > this.fetched.get(info.file)!) {
        this.fetched.set(info.file, quarter);
        this.log(`downloading ${this.model} (${info.file}): ${Math.floor(info.progress)}% of ${(info.total / 1e6).toFixed(1)} MB`);
      }
    }
  };

  finish(): void {
    clearTimeout(this.timer);
    this.signal?.removeEventListener("abort", this.onAbort);
  }
}
