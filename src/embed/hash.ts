import type { Embedder, EmbedderInfo, EmbedOptions } from "./embedder.js";
import { throwIfAborted } from "./embedder.js";

export const DEFAULT_HASH_DIMENSION = 384;

const TOKEN = /[\p{L}\p{N}]+/gu;
const TOKEN_WEIGHT = 1;
const NGRAM_WEIGHT = 0.35;
const NGRAM = 3;

/** FNV-1a, 32-bit: fast, stable across platforms and releases, good enough spread for feature hashing. */
function fnv1a(text: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function addFeature(vector: Float32Array, feature: string, weight: number): void {
  const h = fnv1a(feature, 0);
  // A second, independent hash picks the sign so collisions cancel out on average.
  const sign = fnv1a(feature, 0x9e3779b9) & 1 ? 1 : -1;
  vector[h % vector.length]! += sign * weight;
}

/**
 * Deterministic feature-hashing embedder: word tokens plus character trigrams
 * of each token, L2-normalised. Lexical, not semantic; for tests, benchmarks
 * and as an always-available fallback.
 */
export class HashEmbedder implements Embedder {
  readonly provider = "hash";
  readonly model: string;
  readonly maxBatchSize = 1024;
  private readonly info: EmbedderInfo;

  constructor(readonly dimension: number = DEFAULT_HASH_DIMENSION) {
    if (!Number.isInteger(dimension) || dimension < 8 || dimension > 8192) {
      throw new RangeError(`hash embedder dimension must be an integer from 8 to 8192, got ${dimension}`);
    }
    // provider:model doubles as the --embedder spec ("hash:384").
    this.model = String(dimension);
    this.info = { provider: this.provider, model: this.model, dimension, distance: "dot", normalized: true };
  }

  async load(): Promise<EmbedderInfo> {
    return this.info;
  }

  async embed(texts: readonly string[], options: EmbedOptions): Promise<Float32Array[]> {
    throwIfAborted(options.signal);
    return texts.map((text) => this.embedOne(text));
  }

  private embedOne(text: string): Float32Array {
    const vector = new Float32Array(this.dimension);
    for (const match of text.toLowerCase().matchAll(TOKEN)) {
      const token = match[0];
      addFeature(vector, `w:${token}`, TOKEN_WEIGHT);
      const padded = `^${token}$`;
      for (let i = 0; i + NGRAM <= padded.length; i++) {
        addFeature(vector, `c:${padded.slice(i, i + NGRAM)}`, NGRAM_WEIGHT);
      }
    }
    let norm = 0;
    for (const x of vector) norm += x * x;
    if (norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let i = 0; i < vector.length; i++) vector[i]! *= inv;
    }
    return vector;
  }
}
