/**
 * The scale benchmark's data, the same in the benchmark and in its store
 * process: chunk `i` is always the same text and metadata, so the store
 * process generates what it indexes itself and nothing large crosses the
 * process boundary.
 */
import type { Filter, IndexInput } from "../../src/store/schemas.js";
import { Corpus } from "../store/corpus.js";
import { chunkId, docId } from "../store/workload.js";

/** Changing the seed or the metadata changes every chunk: a kept --data-dir records it and is refused when it differs. */
export const DATA_VERSION = "scale-v1:seed-20240601:bucket-tier";
const SEED = 20_240_601;

/** Every chunk's `bucket` is 0..99, evenly, so a filter on it matches a known share of the store. */
export const bucketOf = (row: number): number => row % 100;

export interface FilterCase {
  name: string;
  filter: Filter;
  /** Share of chunks it matches. */
  share: number;
  matches(row: number): boolean;
}

export const FILTERS: readonly FilterCase[] = [
  { name: "1%", filter: { bucket: 7 }, share: 0.01, matches: (row) => bucketOf(row) === 7 },
  { name: "30%", filter: { bucket: { lt: 30 } }, share: 0.3, matches: (row) => bucketOf(row) < 30 },
];

export interface QuerySets {
  /** 4-9 words taken from one chunk plus one or two stray words, as a person types a search. */
  short: string[];
  /** Chunk-like passages that are not in the store: "more like this" queries, the recall target's query set. */
  passages: string[];
  /** Never measured: warms caches before each measured series. */
  warmup: string[];
}

export class ScaleData {
  private readonly corpus = new Corpus(SEED);

  text(row: number): string {
    return this.corpus.chunk(row);
  }

  /** What the store indexes for chunk `row`: ten chunks per document, and metadata to filter on. */
  input(row: number): IndexInput {
    const bucket = bucketOf(row);
    return { chunk_id: chunkId(row), doc_id: docId(row), text: this.text(row), metadata: { bucket, tier: bucket < 30 ? "hot" : "cold" } };
  }

  inputs(from: number, to: number): IndexInput[] {
    return Array.from({ length: to - from }, (_, j) => this.input(from + j));
  }

  texts(from: number, to: number): string[] {
    return Array.from({ length: to - from }, (_, j) => this.text(from + j));
  }

  /**
   * Short queries come from chunks below `sourceRows` (the first
   * checkpoint), so every checkpoint holds their source and answers the
   * same queries; passages come from after the last chunk.
   */
  querySets(count: number, sourceRows: number, chunks: number): QuerySets {
    return {
      short: this.corpus.queries(count, sourceRows, 1),
      passages: this.corpus.passages(count, chunks),
      warmup: this.corpus.queries(10, sourceRows, 2),
    };
  }
}
