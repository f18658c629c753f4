import { AutoEmbedder } from "./auto.js";
import type { Embedder } from "./embedder.js";
import { DEFAULT_HASH_DIMENSION, HashEmbedder } from "./hash.js";
import { OFFLINE_MODEL, OfflineEmbedder } from "./offline.js";
import { OpenAIEmbedder, type OpenAIEmbedderOptions } from "./openai.js";
import type { EmbedderOptions } from "./options.js";
import { DEFAULT_TRANSFORMERS_MODEL, TransformersEmbedder } from "./transformers.js";

export class EmbedderSpecError extends Error {
  override readonly name = "EmbedderSpecError";
}

export const DEFAULT_EMBEDDER_SPEC = "auto";

const AVAILABLE =
  `Available: auto (default), transformers[:<model>] (default ${DEFAULT_TRANSFORMERS_MODEL}; Xenova/bge-small-en-v1.5 embeds better), ` +
  `openai:<model>[@<dimensions>] (OPENAI_BASE_URL, OPENAI_API_KEY), offline, hash[:<dimension>].`;

export interface SpecOptions extends EmbedderOptions {
  /** Tuning for `openai:` beyond what the spec and OPENAI_* variables say. */
  openai?: Omit<OpenAIEmbedderOptions, "dimensions" | "env">;
}

/**
 * Builds an embedder from a `--embedder` / RETRIEVAL_MCP_EMBEDDER spec,
 * `provider[:model]`. Construction is cheap; models load on first use.
 */
export function embedderFromSpec(spec: string, options: SpecOptions = {}): Embedder {
  const trimmed = spec.trim();
  const colon = trimmed.indexOf(":");
  const provider = colon === -1 ? trimmed : trimmed.slice(0, colon);
  const model = colon === -1 ? "" : trimmed.slice(colon + 1).trim();
  switch (provider) {
    case "auto":
      if (model !== "") throw new EmbedderSpecError(`Invalid embedder "${spec}": auto takes no model. ${AVAILABLE}`);
      return new AutoEmbedder(options);
    case "transformers":
      return new TransformersEmbedder(model || DEFAULT_TRANSFORMERS_MODEL, options);
    case "openai":
      return openai(spec, model, options);
    case "offline":
      if (model !== "" && model !== OFFLINE_MODEL) throw new EmbedderSpecError(`Invalid embedder "${spec}": the offline embedder has one model, ${OFFLINE_MODEL}.`);
      return new OfflineEmbedder();
    case "hash": {
      const dimension = model === "" ? DEFAULT_HASH_DIMENSION : Number(model);
      if (!Number.isInteger(dimension) || dimension < 8 || dimension > 8192) {
        throw new EmbedderSpecError(`Invalid embedder "${spec}": the hash embedder takes a dimension from 8 to 8192, e.g. "hash:384".`);
      }
      return new HashEmbedder(dimension);
    }
    default:
      throw new EmbedderSpecError(`Unknown embedder "${spec}". ${AVAILABLE}`);
  }
}

/** `openai:<model>[@<dimensions>]`; the dimensions suffix stays part of the bound model name. */
function openai(spec: string, model: string, options: SpecOptions): Embedder {
  const match = /^(.+?)(?:@(\d+))?$/.exec(model);
  if (!match) throw new EmbedderSpecError(`Invalid embedder "${spec}": name the model, e.g. "openai:text-embedding-3-small" or "openai:text-embedding-3-small@256".`);
  const dimensions = match[2] === undefined ? undefined : Number(match[2]);
  if (dimensions !== undefined && dimensions < 1) throw new EmbedderSpecError(`Invalid embedder "${spec}": dimensions must be at least 1.`);
  return new OpenAIEmbedder(match[1]!, { ...options.openai, dimensions, env: options.env });
}

export interface BoundModel {
  provider: string;
  model: string;
}

/**
 * The embedder to open a data directory with. A store keeps the model it
 * was created with: under `auto` that bound model is used (whatever `auto`
 * would pick today); an explicit spec is returned as asked, and the store
 * refuses it if it differs from the binding.
 */
export function resolveEmbedder(spec: string, options: SpecOptions & { boundModel?: BoundModel | null } = {}): Embedder {
  const { boundModel, ...rest } = options;
  if (spec.trim() === "auto" && boundModel) return embedderFromSpec(`${boundModel.provider}:${boundModel.model}`, rest);
  return embedderFromSpec(spec, rest);
}
