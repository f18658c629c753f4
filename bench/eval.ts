/**
 * `npm run eval`: retrieval quality of the store on the shared test
 * collections. Each collection is indexed through the store (the ordinary
 * write path, in batches), its judged queries run in every requested mode,
 * and nDCG@k, recall@k, MRR@k and mean latency are printed next to an
 * independent reference BM25 run on the same documents in the same run.
 * Progress goes to stderr, the markdown report to stdout.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbedderSpecError, resolveEmbedder } from "../src/embed/from-spec.js";
import { StoreError } from "../src/store/errors.js";
import { Store } from "../src/store/store.js";
import { USAGE, UsageError, parseEvalArgs, type EvalArgs } from "./eval/args.js";
import { Bm25 } from "./eval/bm25.js";
import type { EvalCollection } from "./eval/collection.js";
import { MissingDataError, loadCollection } from "./eval/collections.js";
import { collectionReport, lossReport, summaryReport, REFERENCE_LABEL, type CollectionOutcome } from "./eval/report.js";
import { indexCollection, runQueries, storeSearch } from "./eval/run.js";

/** A batch job on a shared machine: the store's default embedding timeout is sized for interactive calls. */
const EMBED_TIMEOUT_MS = 60 * 60_000;

const progress = (line: string) => process.stderr.write(`eval: ${line}\n`);

async function evaluate(collection: EvalCollection, args: EvalArgs, dataDir: string): Promise<CollectionOutcome> {
  const queries = args.limitQueries === null ? collection.queries : collection.queries.slice(0, args.limitQueries);
  if (collection.name === "scifact") progress("scifact is the holdout: report its numbers, never tune on them");
  const embedder = resolveEmbedder(args.embedder, { boundModel: await Store.readBinding({ dataDir }) });
  const store = await Store.open({ dataDir, embedder, background: false, embedTimeoutMs: EMBED_TIMEOUT_MS, log: progress });
  try {
    progress(`${collection.name}: indexing ${collection.documents.length} documents with ${args.embedder} in ${dataDir}`);
    const index = await indexCollection(store, collection, (done, total) => progress(`${collection.name}: ${done}/${total} documents`));
    const modes = [];
    for (const mode of args.modes) {
      progress(`${collection.name}: ${queries.length} queries, mode ${mode}`);
      modes.push(await runQueries(mode, collection, queries, args.k, storeSearch(store, mode, args.k)));
    }
    const started = performance.now();
    const bm25 = new Bm25(collection.documents);
    const referenceBuildMs = performance.now() - started;
    const reference = await runQueries(REFERENCE_LABEL, collection, queries, args.k, async (query) => bm25.search(query, args.k).map((hit) => hit.id));
    return { collection, queries, embedder: args.embedder, k: args.k, index, referenceBuildMs, modes, reference };
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const args = parseEvalArgs(process.argv.slice(2));
  if (!args) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // Every collection is loaded before anything is indexed, so missing data fails in seconds, not after an hour of embedding.
  const collections = args.collections.map(loadCollection);
  const root = args.dataDir ?? mkdtempSync(join(tmpdir(), "retrieval-eval-"));
  try {
    const outcomes: CollectionOutcome[] = [];
    for (const collection of collections) {
      const outcome = await evaluate(collection, args, join(root, collection.name));
      outcomes.push(outcome);
      const losses = args.showLosses > 0 ? lossReport(outcome, args.showLosses) : "";
      process.stdout.write(`\n${collectionReport(outcome)}\n${losses ? `\n${losses}\n` : ""}`);
    }
    if (outcomes.length > 1) process.stdout.write(`\n${summaryReport(outcomes)}\n`);
  } finally {
    if (!args.dataDir) rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  const known = error instanceof UsageError || error instanceof MissingDataError || error instanceof EmbedderSpecError || error instanceof StoreError;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`eval: ${message}\n${error instanceof UsageError ? "Run `npm run eval -- --help` for the options.\n" : ""}`);
  if (!known && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exitCode = error instanceof UsageError || error instanceof MissingDataError ? 2 : 1;
});
