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
  /** Where progress and choices are reported; defaults to the server's logger (stderr and MCP log notifications). */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

export interface ResolvedModelFiles {
  cacheDir: string;
  modelPath: string | undefined;
  offline: boolean;
  downloadTimeoutMs: number;
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
    log: options.log ?? logger.info,
  };
}
