import { embedderFromSpec } from "../src/embed/from-spec.js";
import { Store } from "../src/store/store.js";
import type { Corpus } from "./store/corpus.js";

/** Indexes corpus chunks 0..count-1 as `${prefix}${i}` through the store, 1,000 a batch, then compacts. */
export async function seedStore(dataDir: string, embedder: string, corpus: Corpus, count: number, prefix: string): Promise<void> {
  const store = await Store.open({ dataDir, embedder: embedderFromSpec(embedder) });
  for (let i = 0; i < count; i += 1000) {
    await store.indexMany(Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({ chunk_id: `${prefix}${i + j}`, text: corpus.chunk(i + j) })));
  }
  await store.optimize();
  await store.close();
}
