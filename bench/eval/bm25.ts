/**
 * The reference BM25 the product's keyword search is measured against. It is
 * written here on purpose, sharing nothing with the product, so that a bug in
 * the product's lexical side cannot hide by being in the yardstick too.
 */
import { porterStem } from "./porter.js";

/**
 * The classic NLTK English stopword list. Cranfield's queries are questions
 * ("what ... can be ... how"); with Lucene's shorter list those question
 * words would weigh on every match.
 */
const STOPWORDS = new Set(
  (
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself it its itself " +
    "they them their theirs themselves what which who whom this that these those am is are was were be been being have has had having " +
    "do does did doing a an the and but if or because as until while of at by for with about against between into through during before " +
    "after above below to from up down in out on off over under again further then once here there when where why how all any both each " +
    "few more most other some such no nor not only own same so than too very s t can will just don should now"
  ).split(" "),
);

const TOKEN = /[\p{L}\p{N}]+/gu;

export function tokenize(text: string): string[] {
  return (text.toLowerCase().match(TOKEN) ?? []).filter((t) => !STOPWORDS.has(t)).map(porterStem);
}

export interface Bm25Params {
  k1: number;
  b: number;
}

export const REFERENCE_PARAMS: Bm25Params = { k1: 0.9, b: 0.4 };

export interface Scored {
  id: string;
  score: number;
}

interface Posting {
  doc: number;
  tf: number;
}

export class Bm25 {
  private readonly ids: string[];
  private readonly lengths: Float64Array;
  private readonly averageLength: number;
  private readonly postings = new Map<string, Posting[]>();

  constructor(
    documents: readonly { id: string; text: string }[],
    private readonly params: Bm25Params = REFERENCE_PARAMS,
  ) {
    this.ids = documents.map((d) => d.id);
    this.lengths = new Float64Array(documents.length);
    documents.forEach((document, doc) => {
      const tokens = tokenize(document.text);
      this.lengths[doc] = tokens.length;
      const counts = new Map<string, number>();
      for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
      for (const [term, tf] of counts) {
        let list = this.postings.get(term);
        if (!list) this.postings.set(term, (list = []));
        list.push({ doc, tf });
      }
    });
    this.averageLength = documents.length === 0 ? 0 : this.lengths.reduce((s, l) => s + l, 0) / documents.length;
  }

  /** Lucene's idf: never negative, unlike Robertson-Sparck Jones for terms in over half the documents. */
  idf(term: string): number {
    const df = this.postings.get(term)?.length ?? 0;
    return Math.log(1 + (this.ids.length - df + 0.5) / (df + 0.5));
  }

  /** Every document with a positive score, best first; a term repeated in the query counts once per occurrence. */
  scoreAll(query: string): Scored[] {
    const { k1, b } = this.params;
    const scores = new Map<number, number>();
    for (const term of tokenize(query)) {
      const list = this.postings.get(term);
      if (!list) continue;
      const idf = this.idf(term);
      for (const { doc, tf } of list) {
        const norm = k1 * (1 - b + (b * this.lengths[doc]!) / this.averageLength);
        scores.set(doc, (scores.get(doc) ?? 0) + (idf * tf * (k1 + 1)) / (tf + norm));
      }
    }
    // Ties go to the earlier document, so runs are reproducible.
    return [...scores]
      .sort((x, y) => y[1] - x[1] || x[0] - y[0])
      .map(([doc, score]) => ({ id: this.ids[doc]!, score }));
  }

  search(query: string, k: number): Scored[] {
    return this.scoreAll(query).slice(0, k);
  }
}
