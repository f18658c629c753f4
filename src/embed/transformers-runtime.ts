import { join } from "node:path";
import type { ProgressInfo } from "@huggingface/transformers";
import { isMissingPackage } from "../optional-package.js";
import { pinnedPeer } from "../version.js";
import { EmbedderError, throwIfAborted } from "./embedder.js";
import type { Dtype, ResolvedModelFiles } from "./options.js";

const DEFAULT_HUB = "https://huggingface.co";
const TRANSFORMERS_NAME = "@huggingface/transformers";

type Transformers = typeof import("@huggingface/transformers");

/** A model that cannot be loaded; `reason` is the short why, for one-line messages such as auto's fallback. */
export class ModelUnavailableError extends EmbedderError {
  constructor(
    message: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The ONNX file of each variant, as transformers.js names them. */
export function onnxFile(dtype: Dtype): string {
  return { fp32: "onnx/model.onnx", fp16: "onnx/model_fp16.onnx", q8: "onnx/model_quantized.onnx" }[dtype];
}

export function hubOf(env: NodeJS.ProcessEnv | undefined): string {
  return ((env ?? process.env).HF_ENDPOINT || DEFAULT_HUB).replace(/\/+$/, "");
}

/**
 * transformers.js (and with it onnxruntime-node) is an optional dependency:
 * its installer downloads binaries from outside the npm registry, so the
 * package installs without it and says here how to add it.
 */
async function importTransformers(): Promise<Transformers> {
  try {
    return await import("@huggingface/transformers");
  } catch (error) {
    if (!isMissingPackage(error, TRANSFORMERS_NAME)) throw error;
    const pinned = pinnedPeer(TRANSFORMERS_NAME);
    throw new ModelUnavailableError(
      `transformers models need the optional package ${pinned}, which is not installed. Install it next to retrieval-mcp ` +
        `(\`npm install -g ${pinned}\` for a global install; ONNXRUNTIME_NODE_INSTALL=skip skips its optional GPU download), or use --embedder offline.`,
      `the optional package ${TRANSFORMERS_NAME} is not installed`,
      { cause: error },
    );
  }
}

/** transformers.js configures itself through one global `env`; loads take turns so each sees its own settings. */
let loadQueue: Promise<unknown> = Promise.resolve();

interface ModelLoadRequest<T> {
  model: string;
  files: ResolvedModelFiles;
  hub: string;
  signal: AbortSignal | undefined;
  /** What is being loaded, for progress ("downloading <file>: 45% of 90.4 MB"). */
  onProgress: (detail: string) => void;
  create: (library: Transformers, options: { cache_dir: string; local_files_only: boolean; progress_callback: (info: ProgressInfo) => void; dtype: Dtype; device: "cpu" }) => Promise<T>;
}

/**
 * Loads one model through transformers.js from the cache, `--model-path` or
 * the hub (bounded by the signal and the download deadline), and on failure
 * says which files to fetch by hand and where to put them.
 */
function loadTransformersModel<T>(request: ModelLoadRequest<T>): Promise<T> {
  const loading = loadQueue.then(() => load(request));
  loadQueue = loading.catch(() => undefined);
  return loading;
}

async function load<T>({ model, files, hub, signal, onProgress, create }: ModelLoadRequest<T>): Promise<T> {
  throwIfAborted(signal);
  const library = await importTransformers();
  const { env, LogLevel } = library;
  const { cacheDir, modelPath, offline, downloadTimeoutMs, log, dtype } = files;
  const downloads = new Download(model, cacheDir, log, onProgress, signal, downloadTimeoutMs);
  Object.assign(env, {
    // Its own warnings (e.g. "not found at the local path" before a cache hit) would read as failures.
    logLevel: LogLevel.ERROR,
    allowLocalModels: true,
    localModelPath: modelPath ?? cacheDir,
    allowRemoteModels: !offline,
    remoteHost: hub,
    useFSCache: true,
    cacheDir,
    fetch: downloads.fetch,
  });
  try {
    return await create(library, { cache_dir: cacheDir, local_files_only: offline, progress_callback: downloads.progress, dtype, device: "cpu" });
  } catch (error) {
    throwIfAborted(signal);
    const reason = downloads.failure ?? (error instanceof Error ? error.message : String(error));
    throw new ModelUnavailableError(installHint(model, files, hub, reason), offline ? "offline mode is on and the model is not on disk" : reason, { cause: error });
  } finally {
    downloads.finish();
  }
}

/**
 * One model loaded on first use and shared by every later call; a failed
 * load is retried by the next one. Shared by the embedder and the reranker.
 */
export class LazyModel<T> {
  private loading: Promise<T> | null = null;
  private detail: string | null = null;

  constructor(private readonly request: Omit<ModelLoadRequest<T>, "signal" | "onProgress">) {}

  get(signal?: AbortSignal): Promise<T> {
    if (!this.loading) {
      this.detail = "starting transformers.js";
      const loading = loadTransformersModel({ ...this.request, signal, onProgress: (detail) => (this.detail = detail) });
      this.loading = loading;
      loading.then(
        () => (this.detail = null),
        () => {
          this.detail = null;
          if (this.loading === loading) this.loading = null;
        },
      );
    }
    return this.loading;
  }

  /** What the load is doing while it runs, else null. */
  progress(): string | null {
    return this.detail;
  }

  async close(dispose: (model: T) => Promise<unknown>): Promise<void> {
    const loading = this.loading;
    this.loading = null;
    if (loading) await loading.then(dispose, () => undefined);
  }
}

function installHint(model: string, files: ResolvedModelFiles, hub: string, reason: string): string {
  const { cacheDir, modelPath, offline, dtype } = files;
  const needed = ["config.json", "tokenizer.json", "tokenizer_config.json", onnxFile(dtype)];
  const where = offline ? "offline mode is on, so nothing was downloaded" : `downloading from ${hub} failed`;
  return (
    `The model ${model} could not be loaded (${where}: ${reason}). ` +
    `To install it by hand, download ${needed.join(", ")} from ${hub}/${model}/tree/main ` +
    `into ${join(modelPath ?? cacheDir, model)}/ (keep the onnx/ subfolder)` +
    (modelPath ? "" : `, or into <dir>/${model}/ and start with --model-path <dir> (RETRIEVAL_MCP_MODEL_DIR)`) +
    `. Or use --embedder offline, whose model ships with the package.`
  );
}

/**
 * The network side of one load: bounds every download by the load's signal
 * and a deadline, and reports progress for files actually fetched (cache
 * and local hits raise the same events, but are not downloads).
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
    private readonly onProgress: (detail: string) => void,
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
      this.onProgress(`downloading ${file} from ${url.split("/resolve/")[0]}`);
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
      const detail = `downloading ${info.file}: ${Math.floor(info.progress)}% of ${(info.total / 1e6).toFixed(1)} MB`;
      this.onProgress(detail);
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
