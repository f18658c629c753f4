import type * as lancedb from "@lancedb/lancedb";
import type { Store } from "../../src/store/store.js";
import { arrowBatch, mergeInsert } from "./raw-lance.js";
import { inTurn, pool } from "./stats.js";
import { chunkId, docId, input, type Workload } from "./workload.js";

export interface IngestRow {
  path: string;
  chunks: number;
  ms: number;
  /** Embedding's share of `ms`, measured separately on the same texts; null when nothing is embedded. */
  embedMs: number | null;
  commits: number;
}

/** A workload row's columns as the raw reference writes them. */
const rawRow = (w: Workload) => ({ chunkId, docId, text: (i: number) => w.texts[i]! });

async function storeVersion(store: Store): Promise<number> {
  return (await store.status()).lance?.version ?? 0;
}

/**
 * Store.indexMany and raw MergeInsert, batch by batch on the same rows,
 * alternating which goes first, so load from other users of this machine
 * falls on both alike. Row 0 goes in untimed first: it binds the model and
 * creates the tables, one-off costs that are not throughput.
 */
export async function ingestBatched(w: Workload, store: Store, raw: lancedb.Table, chunks: number, batch: number): Promise<{ store: IngestRow; raw: IngestRow }> {
  await store.indexMany([input(w, 0)]);
  await mergeInsert(raw, arrowBatch(w.dimension, w.vectors, 0, 1, rawRow(w)));
  const storeBefore = await storeVersion(store);
  const rawBefore = await raw.version();
  let storeMs = 0;
  let rawMs = 0;
  for (let from = 1, round = 0; from < chunks; from += batch, round++) {
    const to = Math.min(chunks, from + batch);
    const viaStore = async () => {
      const started = performance.now();
      await store.indexMany(Array.from({ length: to - from }, (_, j) => input(w, from + j)));
      storeMs += performance.now() - started;
    };
    const viaRaw = async () => {
      const started = performance.now();
      await mergeInsert(raw, arrowBatch(w.dimension, w.vectors, from, to, rawRow(w)));
      rawMs += performance.now() - started;
    };
    await inTurn(round, viaStore, viaRaw);
  }
  const timedChunks = chunks - 1;
  return {
    store: {
      path: `store.indexMany, batches of ${batch.toLocaleString("en-US")}`,
      chunks: timedChunks,
      ms: storeMs,
      embedMs: (w.embedBatchedMs * timedChunks) / w.texts.length,
      commits: (await storeVersion(store)) - storeBefore,
    },
    raw: {
      path: `raw LanceDB mergeInsert, batches of ${batch.toLocaleString("en-US")} (vectors precomputed)`,
      chunks: timedChunks,
      ms: rawMs,
      embedMs: null,
      commits: (await raw.version()) - rawBefore,
    },
  };
}

/** Concurrent store.index calls of one chunk each, `concurrency` in flight: what many MCP clients do. */
export async function ingestSingles(w: Workload, store: Store, chunks: number, concurrency: number, embedOneMs: number): Promise<IngestRow> {
  await store.index(input(w, 0));
  const before = await storeVersion(store);
  const started = performance.now();
  await pool(chunks - 1, concurrency, async (i) => {
    await store.index(input(w, i + 1));
  });
  const ms = performance.now() - started;
  return {
    path: `store.index, one chunk per call, ${concurrency} in flight`,
    chunks: chunks - 1,
    ms,
    embedMs: embedOneMs,
    commits: (await storeVersion(store)) - before,
  };
}
