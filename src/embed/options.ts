import { homedir } from "node:os";
import { join } from "node:path";
import { logger } from "../log/logger.js";

/**
 * Everything outside the `--embedder` spec that decides how a provider
 * loads. The CLI fills it from flags; unset fields fall back to the
 * environment (`env`, default `process.env`).
 */
export interface EmbedderOptions {
  /** The store's data directory; downloaded models are cached in `<dataDir>/models`. */
  dataDir?: string;
  /** Pre-downloaded models, laid out as `<modelPath>/<org>/<name>/` (`--model-path`, RETRIEVAL_MCP_MODEL_DIR). */
  modelPath?: string;
  /** Never download anything (`--offline`, RETRIEVAL_MCP_OFFLINE=1 or HF_HUB_OFFLINE=1). */
  offline?: boolean;
  /** Upper bound for downloading a model; past it the load fails (and `auto` falls back). */
  downloadTimeoutMs?: number;
  /** Which ONNX variant of a transformers model to load (`--dtype`); default fp32. */
  dtype?: Dtype;
  /** Where progress and choices are reported; defaults to the server's logger (stderr and MCP log notifications). */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

/**
 * ONNX variants of a transformers model: full precision (the reference),
 * half precision, or 8-bit quantized (about a quarter of fp32's download,
 * vectors within a rounding error of it). fp32 stays the default so a store
 * keeps the vectors it was built with.
 */
export const DTYPES = ["fp32", "fp16", "q8"] as const;
export type Dtype = (typeof DTYPES)[number];
export const DEFAULT_DTYPE: Dtype = "fp32";

export interface ResolvedModelFiles {
  cacheDir: string;
  modelPath: string | undefined;
  offline: boolean;
  downloadTimeoutMs: number;
  dtype: Dtype;
  log: (line: string) => void;
}

function flag(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

export function resolveModelFiles(options: EmbedderOptions): ResolvedModelFiles {
  const env = options.env ?? process.env;
  return {
    cacheDir: options.dataDir ? join(options.dataDir, "models") : join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "retrieval-mcp", "models"),
    modelPath: options.modelPath ?? (env.RETRIEVAL_MCP_MODEL_DIR || undefined),
    offline: options.offline ?? (flag(env.RETRIEVAL_MCP_OFFLINE) || flag(env.HF_HUB_OFFLINE)),
    downloadTimeoutMs: options.downloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS,
    dtype: options.dtype ?? DEFAULT_DTYPE,
    log: options.log ?? logger.info,
  };
}
