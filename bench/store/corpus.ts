/**
 * Deterministic synthetic text for the store benchmark. Words follow a
 * Zipf-Mandelbrot law over a generated vocabulary, as in natural text, so
 * hashed vectors share features unevenly (a few frequent words, a long
 * tail) instead of being uniform noise or near-duplicates.
 */

/** mulberry32: tiny, seedable and identical on every platform. */
export function makeRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const VOCABULARY_SIZE = 20_000;
const ZIPF_EXPONENT = 1.05;
// The Mandelbrot offset flattens the head a little, as real word counts do.
const ZIPF_OFFSET = 2.7;
const ONSETS = ["b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pl", "qu", "r", "s", "sh", "st", "t", "th", "tr", "v", "w", "z"];
const NUCLEI = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "y"];
const CODAS = ["", "", "n", "r", "s", "t", "l", "nd", "st", "ck"];

function makeVocabulary(random: () => number): string[] {
  const words = new Set<string>();
  while (words.size < VOCABULARY_SIZE) {
    const syllables = 1 + Math.floor(random() * 3);
    let word = "";
    for (let s = 0; s < syllables; s++) {
      word += ONSETS[Math.floor(random() * ONSETS.length)]! + NUCLEI[Math.floor(random() * NUCLEI.length)]! + CODAS[Math.floor(random() * CODAS.length)]!;
    }
    words.add(word);
  }
  return [...words];
}

export class Corpus {
  private readonly vocabulary: string[];
  private readonly cdf: Float64Array;

  constructor(private readonly seed: number) {
    this.vocabulary = makeVocabulary(makeRandom(seed));
    this.cdf = new Float64Array(VOCABULARY_SIZE);
    let total = 0;
    for (let r = 0; r < VOCABULARY_SIZE; r++) this.cdf[r] = total += 1 / (r + ZIPF_OFFSET) ** ZIPF_EXPONENT;
    for (let r = 0; r < VOCABULARY_SIZE; r++) this.cdf[r]! /= total;
  }

  private word(random: () => number): string {
    const u = random();
    let lo = 0;
    let hi = VOCABULARY_SIZE - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return this.vocabulary[lo]!;
  }

  /** Chunk `i` is always the same text: 3-6 sentences of 8-16 words, about 60 words. */
  chunk(i: number): string {
    const random = makeRandom(this.seed ^ Math.imul(i + 1, 0x9e3779b1));
    const sentences = 3 + Math.floor(random() * 4);
    const out: string[] = [];
    for (let s = 0; s < sentences; s++) {
      const words = Array.from({ length: 8 + Math.floor(random() * 9) }, () => this.word(random));
      words[0] = words[0]!.charAt(0).toUpperCase() + words[0]!.slice(1);
      out.push(`${words.join(" ")}.`);
    }
    return out.join(" ");
  }

  /**
   * Queries as a person would type them about something in the store: a few
   * words taken from one chunk plus a stray word or two, so each query has
   * real neighbours but no exact duplicate.
   */
  queries(count: number, chunks: number, salt: number): string[] {
    const random = makeRandom(this.seed ^ salt);
    return Array.from({ length: count }, () => {
      const source = this.chunk(Math.floor(random() * chunks)).toLowerCase().replace(/\./g, "").split(" ");
      const picked = Array.from({ length: 3 + Math.floor(random() * 5) }, () => source[Math.floor(random() * source.length)]!);
      const stray = Array.from({ length: 1 + Math.floor(random() * 2) }, () => this.word(random));
      return [...picked, ...stray].join(" ");
    });
  }

  /** Passages written like the stored chunks but not among them: "more like this" queries. */
  passages(count: number, after: number): string[] {
    return Array.from({ length: count }, (_, i) => this.chunk(after + i));
  }
}
