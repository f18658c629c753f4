import type { Embedder } from "./embedder.js";
import { DEFAULT_HASH_DIMENSION, HashEmbedder } from "./hash.js";

export class EmbedderSpecError extends Error {
  override readonly name = "EmbedderSpecError";
}

/**
 * Builds an embedder from a `--embedder` / RETRIEVAL_MCP_EMBEDDER spec,
 * `provider[:model]`. Construction is cheap; models load on first use.
 */
export function embedderFromSpec(spec: string): Embedder {
  const colon = spec.indexOf(":");
  const provider = colon === -1 ? spec : spec.slice(0, colon);
  const model = colon === -1 ? "" : spec.slice(colon + 1);
  switch (provider) {
    case "hash": {
      const dimension = model === "" ? DEFAULT_HASH_DIMENSION : Number(model);
      if (!Number.isInteger(dimension) || dimension < 8 || dimension > 8192) {
        throw new EmbedderSpecError(`Invalid embedder "${spec}": the hash embedder takes a dimension from 8 to 8192, e.g. "hash:384".`);
      }
      return new HashEmbedder(dimension);
    }
    default:
      throw new EmbedderSpecError(`Unknown embedder "${spec}". Available: hash[:dimension] (e.g. hash:384).`);
  }
}
