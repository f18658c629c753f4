import { mkdirSync } from "node:fs";
import * as lancedb from "@lancedb/lancedb";
import { modelKey, type Embedder, type EmbedderInfo } from "../embed/embedder.js";
import type { Reranker } from "../embed/reranker.js";
import { toChunkWrite } from "./chunk-input.js";
import { embedChecked } from "./embedding.js";
import { StoreError, errorMessage } from "./errors.js";
import { GroupCommitter } from "./group-commit.js";
import { compileFilter } from "./filter.js";
import { DEFAULT_KEYWORD_WEIGHT, convexFusion } from "./fusion.js";
import { matchExpression } from "./lexical.js";
import { MetadataDb, readSettingIfPresent, type ChunkWrite, type LiveChunk, type PendingWork, type RecordStatus, type SearchScope } from "./metadata.js";
import { DEFAULT_COLLECTION, dataPaths, type DataPaths } from "./paths.js";
import { DeleteInput, IndexInput, SearchInput, describeIssues, type Metadata, type SearchMode } from "./schemas.js";
import { reindexState } from "./reindex.js";
import { ModelLoad, type ModelLoadReport } from "./model-load.js";
import { DEFAULT_TABLE, SETTINGS } from "./settings-keys.js";
import { sqlString } from "./sql-literal.js";
import { DEFAULT_ANN_EF, VectorTable, quarantineNewestManifest, type VectorRow, type VectorTableStats } from "./vector-table.js";
import { WriterLock } from "./writer-lock.js";
import type { z } from "zod";

/**
 * Points where tests inject faults (throw, or kill the process) to prove
 * crash safety. `duringCommit` runs inside the step-3 transaction, so it must
 * be synchronous; throwing there rolls step 3 back.
 */
export interface FaultHooks {
  afterPending?: () => void | Promise<void>;
  afterLanceWrite?: () => void | Promise<void>;
  duringCommit?: () => void;
  betweenGcDeletes?: () => void | Promise<void>;
}

export interface StoreOptions {
  dataDir: string;
  embedder: Embedder;
  /** Run GC, recovery and Lance maintenance on timers (default true). Tests turn it off to drive them by hand. */
  background?: boolean;
  gcIntervalMs?: number;
  /** A pending record older than this is presumed abandoned (its writer crashed) and re-driven. */
  recoveryIntervalMs?: number;
  reconcileIntervalMs?: number;
  embedTimeoutMs?: number;
  /** Lance commits after which `optimize()` compacts and prunes versions. */
  optimizeAfterCommits?: number;
  /** ...or once no write has been committed for this long after some were. */
  optimizeWhenQuietMs?: number;
  /** Old Lance versions are kept this long for readers in other processes. */
  keepVersionsMs?: number;
  /** Rows from which an ANN index is built and kept up to date. */
  annMinRows?: number;
  annEf?: number;
  maxRowsPerCommit?: number;
  /** How long a request waits for the model to load before it is told the model is still loading (default 30 s). */
  modelWaitMs?: number;
  /** Keyword (BM25) share of hybrid scores, 0..1; the vector side gets the rest. */
  keywordWeight?: number;
  /** A cross-encoder that re-scores the top hybrid candidates (off when absent). */
  reranker?: Reranker;
  faults?: FaultHooks;
  /** Problems are warnings; progress (a slow model load) is info. */
  log?: (message: string, level: "info" | "warning") => void;
}

export type IndexStatus = "committed" | "pending" | "unchanged";

export interface WriteOptions {
  /** Wait for the vectors to be committed (default). `false` returns after step 1. */
  wait?: boolean;
  /** Cancels embedding; once step 1 has run the write completes regardless. */
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface IndexResult {
  chunk_id: string;
  status: IndexStatus;
  generation: number;
  content_hash: string;
}

export interface SearchHit {
  chunk_id: string;
  doc_id: string | null;
  collection: string;
  score: number;
  text: string;
  metadata: Metadata;
  /** True when `text` was cut to `max_chars`. */
  truncated: boolean;
}

export interface SearchResult {
  results: SearchHit[];
  mode: SearchMode;
  model: string;
  /** The cross-encoder that re-scored these hits (hybrid mode with a reranker), or null. */
  reranker: string | null;
  took_ms: number;
}

export interface DeleteResult {
  deleted: number;
  chunk_ids: string[];
  pending_gc: number;
}

export interface ChunkView {
  chunk_id: string;
  collection: string;
  doc_id: string | null;
  text: string;
  metadata: Metadata;
  content_hash: string;
  status: RecordStatus;
  generation: number;
  created_at: string;
  updated_at: string;
}

export interface RunReport {
  at: string;
  took_ms: number;
  ok: boolean;
  error?: string;
  [detail: string]: unknown;
}

export interface StatusReport {
  counts: { pending: number; committed: number; tombstone: number };
  chunks: number;
  oldest_pending_age_ms: number | null;
  tombstones_awaiting_gc: number;
  oldest_tombstone_age_ms: number | null;
  model: { provider: string; name: string; dimension: number | null; distance: string | null; bound: boolean; load: ModelLoadReport };
  lance: null | (VectorTableStats & { index_coverage: number | null });
  last_recovery: RunReport | null;
  last_gc: RunReport | null;
  last_optimize: RunReport | null;
  /** A re-embedding with another model in progress (`retrieval-mcp reindex`), or null. */
  reindex: null | { target: string; table: string; done: number; total: number; started_at: string };
  data_dir: string;
  chunk_states?: { chunk_id: string; status: RecordStatus | "missing"; generation: number | null; vector_committed: boolean }[];
}

export interface VerifyReport {
  ok: boolean;
  checked: { records: number; lance_rows: number };
  problems: { kind: string; count: number; sample: string[] }[];
  repaired: boolean;
}

const DEFAULTS = {
  gcIntervalMs: 30_000,
  recoveryIntervalMs: 30_000,
  reconcileIntervalMs: 10 * 60_000,
  embedTimeoutMs: 120_000,
  optimizeAfterCommits: 50,
  optimizeWhenQuietMs: 10_000,
  keepVersionsMs: 60_000,
  annMinRows: 50_000,
  annEf: DEFAULT_ANN_EF,
  maxRowsPerCommit: 8192,
  keywordWeight: DEFAULT_KEYWORD_WEIGHT,
  // Half of the MCP SDK client's default 60 s request timeout: the request hears why before its client gives up.
  modelWaitMs: 30_000,
};

/** How many newest manifests verify --repair may set aside to get a damaged table open. */
const MAX_MANIFESTS_SET_ASIDE = 3;

/** Candidates each retriever contributes to hybrid fusion: deeper lists let fusion rescue what one side ranks low. */
const HYBRID_DEPTH = 50;

/**
 * Fused candidates a reranker re-scores (or k, when larger): a cross-encoder
 * runs the model once per candidate, so its cost grows with this number,
 * while candidates fusion ranks below 20 rarely make a top 5 or 10.
 */
const RERANK_DEPTH = 20;

const noop = (): void => undefined;

interface Candidate {
  chunk: LiveChunk;
  score: number;
}

function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new StoreError("invalid_input", describeIssues(parsed.error));
  return parsed.data;
}

/**
 * The retrieval store: chunks and commit state in SQLite, vectors in Lance,
 * written with the three-step protocol of DESIGN.md §1 and kept convergent
 * by GC and recovery.
 */
export class Store {
  readonly paths: DataPaths;
  private readonly options: typeof DEFAULTS & StoreOptions;
  private readonly meta: MetadataDb;
  private readonly lock: WriterLock;
  private readonly committer: GroupCommitter<VectorRow>;
  private info: EmbedderInfo | null = null;
  private readonly model: ModelLoad<EmbedderInfo>;
  private readonly rerankerLoad: ModelLoad<Reranker> | null;
  private tablePromise: Promise<VectorTable> | null = null;
  private readonly background = new Set<Promise<unknown>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private gcSoon: NodeJS.Timeout | null = null;
  private maintenance: Promise<unknown> = Promise.resolve();
  private commitsSinceOptimize = 0;
  private lastCommitAt = 0;
  private annBuild: Promise<void> | null = null;
  private closed = false;
  /** Aborted by close(): background embedding stops and its records stay pending for the next open. */
  private readonly closing = new AbortController();

  private constructor(
    options: StoreOptions,
    private readonly connection: lancedb.Connection,
    meta: MetadataDb,
    lock: WriterLock,
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.paths = dataPaths(options.dataDir);
    this.meta = meta;
    this.lock = lock;
    this.committer = new GroupCommitter((rows) => this.flush(rows), this.options.maxRowsPerCommit);
    const embedder = this.options.embedder;
    this.model = new ModelLoad({
      load: (signal) => this.loadAndBind(signal),
      kind: "embedding model",
      name: () => modelKey(embedder),
      progress: () => embedder.loadProgress?.() ?? null,
      closing: this.closing.signal,
      waitMs: this.options.modelWaitMs,
      log: (message) => this.log(message, "info"),
    });
    const reranker = this.options.reranker;
    this.rerankerLoad = reranker
      ? new ModelLoad({
          load: async (signal) => (await reranker.load(signal), reranker),
          kind: "reranker",
          name: () => reranker.name,
          progress: () => reranker.loadProgress?.() ?? null,
          closing: this.closing.signal,
          waitMs: this.options.modelWaitMs,
          log: (message) => this.log(message, "info"),
        })
      : null;
  }

  /** The model a data directory is bound to, read without creating or migrating anything; null for a new store. */
  static readBinding(dataDir: string): EmbedderInfo | null {
    return readSettingIfPresent<EmbedderInfo>(dataPaths(dataDir).metadataDb, SETTINGS.model) ?? null;
  }

  /**
   * Opens (creating if needed) the data directory. Cheap: no model is loaded
   * and no Lance table is opened until first use. Refuses an embedder other
   * than the one the store is bound to.
   */
  static async open(options: StoreOptions): Promise<Store> {
    const paths = dataPaths(options.dataDir);
    mkdirSync(paths.lanceDir, { recursive: true });
    const meta = new MetadataDb(paths.metadataDb);
    try {
      const bound = meta.getSetting<EmbedderInfo>(SETTINGS.model);
      if (bound && modelKey(bound) !== modelKey(options.embedder)) {
        throw new StoreError(
          "model_mismatch",
          `The data directory ${paths.root} is bound to the embedder ${modelKey(bound)} (${bound.dimension}-d), but ${modelKey(options.embedder)} was requested. ` +
            `Start with --embedder ${modelKey(bound)}, or re-embed the store with \`retrieval-mcp reindex --embedder ${modelKey(options.embedder)} --data-dir ${paths.root}\`.`,
        );
      }
      const connection = await lancedb.connect(paths.lanceDir);
      const store = new Store(options, connection, meta, new WriterLock(paths.writerLock));
      if (bound) store.info = bound;
      store.startBackground();
      return store;
    } catch (error) {
      meta.close();
      throw error;
    }
  }

  // ---------------------------------------------------------------- model

  /**
   * The embedder's description, loading it on first use and binding a new
   * store to it. The load belongs to the store (see ModelLoad): a request
   * waits for it with its own signal, up to modelWaitMs; background work
   * (`patient`) waits as long as it takes.
   */
  private modelInfo(signal?: AbortSignal, patient = false): Promise<EmbedderInfo> {
    return this.model.get({ ...(signal ? { signal } : {}), patient });
  }

  private async loadAndBind(signal: AbortSignal): Promise<EmbedderInfo> {
    let loaded: EmbedderInfo;
    try {
      loaded = await this.options.embedder.load(signal);
    } catch (error) {
      throw new StoreError("embedder_failed", `The embedder ${modelKey(this.options.embedder)} could not be loaded: ${errorMessage(error)}.`, { cause: error });
    }
    const bound = this.meta.claimSetting(SETTINGS.model, loaded);
    if (modelKey(bound) !== modelKey(loaded) || bound.dimension !== loaded.dimension) {
      throw new StoreError(
        "model_mismatch",
        `The store is bound to ${modelKey(bound)} (${bound.dimension}-d) but the embedder now reports ${modelKey(loaded)} (${loaded.dimension}-d). Re-embed with \`retrieval-mcp reindex\`.`,
      );
    }
    this.info = bound;
    return bound;
  }

  private vectors(): Promise<VectorTable> {
    this.tablePromise ??= (async () => {
      // The binding knows the dimension: opening the table never needs the model loaded.
      const info = this.info ?? (await this.modelInfo(undefined, true));
      const name = this.meta.claimSetting(SETTINGS.table, DEFAULT_TABLE);
      return this.lock.run(() => VectorTable.open(this.connection, this.paths.lanceDir, name, info.dimension));
    })();
    this.tablePromise.catch(() => (this.tablePromise = null));
    return this.tablePromise;
  }

  /** The table if the store has ever been bound to a model; reads of an unbound store need none. */
  private async vectorsIfBound(): Promise<VectorTable | null> {
    if (!this.info && !this.meta.getSetting(SETTINGS.model)) return null;
    return this.vectors();
  }

  /**
   * A reindex in another process may have re-bound the store to a new model
   * and table while this one ran; its vectors would then be of the wrong
   * model. Checked before every write and vector search (one indexed read).
   */
  private assertStillBound(table?: VectorTable): void {
    const bound = this.meta.getSetting<EmbedderInfo>(SETTINGS.model);
    const active = this.meta.getSetting<string>(SETTINGS.table);
    const mine = this.info ?? this.options.embedder;
    if ((bound && modelKey(bound) !== modelKey(mine)) || (table && active !== undefined && active !== table.name)) {
      throw new StoreError(
        "model_mismatch",
        `This store was re-embedded with ${bound ? modelKey(bound) : "another model"} (by \`retrieval-mcp reindex\`) while this process was running with ${modelKey(mine)}. ` +
          `Restart it with --embedder ${bound ? modelKey(bound) : "auto"}; nothing was written.`,
      );
    }
  }

  /** Another process may have committed since we last looked; its writes are invisible until we move on. */
  private async catchUp(table: VectorTable): Promise<void> {
    if (this.meta.lanceVersion(table.name) > table.version) await table.refresh();
  }

  // ---------------------------------------------------------------- write

  async index(input: unknown, options: { wait?: boolean; signal?: AbortSignal } = {}): Promise<IndexResult> {
    const [result] = await this.indexMany([input], options);
    return result!;
  }

  /**
   * Indexes chunks. With `wait` (default) the vectors are computed first, so
   * an embedder failure writes nothing; then step 1 marks them pending, one
   * Lance MergeInsert writes them (shared with concurrent callers) and step 3
   * commits them. Without `wait`, step 1 runs at once and a background worker
   * embeds and commits.
   */
  async indexMany(inputs: readonly unknown[], options: WriteOptions = {}): Promise<IndexResult[]> {
    return (await this.write(inputs, options, null)).results;
  }

  /**
   * Makes `inputs` the whole content of a document: chunks of the document
   * not among them are deleted in the same step-1 transaction that writes
   * the new ones, so a crash leaves either the old or the new document.
   */
  async replaceDocument(
    document: { doc_id: string; collection?: string },
    inputs: readonly Omit<IndexInput, "doc_id" | "collection">[],
    options: WriteOptions = {},
  ): Promise<{ results: IndexResult[]; removed: string[] }> {
    const replace = { docId: document.doc_id, collection: document.collection ?? DEFAULT_COLLECTION };
    return this.write(
      inputs.map((input) => ({ ...input, doc_id: replace.docId, collection: replace.collection })),
      options,
      replace,
    );
  }

  /** Chunks of one document, in chunk_id order, whatever their embedding state. */
  documentChunks(docId: string, collection?: string): ChunkView[] {
    this.assertOpen();
    return this.meta.documentChunks(docId, collection ?? null).map(toView);
  }

  private async write(
    inputs: readonly unknown[],
    options: WriteOptions,
    replace: { docId: string; collection: string } | null,
  ): Promise<{ results: IndexResult[]; removed: string[] }> {
    this.assertOpen();
    const writes = inputs.map((input, i) => {
      try {
        return toChunkWrite(parseOrThrow(IndexInput, input));
      } catch (error) {
        if (inputs.length > 1 && error instanceof StoreError) throw new StoreError(error.code, `chunk #${i + 1}: ${error.message}`);
        throw error;
      }
    });
    const seen = new Set<string>();
    for (const w of writes) {
      if (seen.has(w.chunkId)) throw new StoreError("invalid_input", `chunk_id ${JSON.stringify(w.chunkId)} appears more than once in one batch; give each chunk its own id.`);
      seen.add(w.chunkId);
    }
    const info = await this.modelInfo(options.signal);
    this.assertStillBound();
    const model = modelKey(info);
    const live = new Map(this.meta.live(writes.map((w) => w.chunkId)).map((c) => [c.chunk_id, c]));
    const results: IndexResult[] = new Array(writes.length);
    const changed: { write: ChunkWrite; at: number }[] = [];
    writes.forEach((write, at) => {
      const current = live.get(write.chunkId);
      if (current && isUnchanged(current, write, model)) {
        results[at] = { chunk_id: write.chunkId, status: "unchanged", generation: current.generation, content_hash: write.contentHash };
      } else {
        changed.push({ write, at });
      }
    });
    const total = writes.length;
    options.onProgress?.(total - changed.length, total);
    const keep = replace ? { ...replace, keep: writes.map((w) => w.chunkId) } : undefined;
    if (changed.length === 0 && !keep) return { results, removed: [] };

    const wait = options.wait ?? true;
    const vectors = wait
      ? await embedChecked(this.options.embedder, info, changed.map((c) => c.write.text), "document", { signal: options.signal, timeoutMs: this.options.embedTimeoutMs })
      : null;
    if (options.signal?.aborted) throw new StoreError("aborted", "The request was cancelled before anything was written.");

    // Without wait, `pending` is the acknowledgement, so step 1 itself must be durable.
    const { generations, removed } = this.meta.writePending(changed.map((c) => c.write), { model, dimension: info.dimension }, { durable: !wait, replace: keep });
    if (removed.length > 0) this.scheduleGc();
    await this.options.faults?.afterPending?.();
    changed.forEach(({ write, at }, i) => {
      results[at] = { chunk_id: write.chunkId, status: wait ? "committed" : "pending", generation: generations[i]!, content_hash: write.contentHash };
    });

    if (!vectors) {
      this.track(this.drive(changed.map(({ write }, i) => ({ chunk_id: write.chunkId, generation: generations[i]!, collection: write.collection, doc_id: write.docId, text: write.text }))));
      return { results, removed };
    }
    const rows = changed.map(({ write }, i) => ({ chunkId: write.chunkId, generation: generations[i]!, collection: write.collection, docId: write.docId, vector: vectors[i]! }));
    try {
      await this.committer.submit(rows);
    } catch (error) {
      throw new StoreError(
        "lance_write_failed",
        `Writing the vectors failed: ${errorMessage(error)}. The chunks are saved as pending and recovery will retry them; embedding_status shows their state.`,
        { cause: error },
      );
    }
    options.onProgress?.(total, total);
    return { results, removed };
  }

  /** Steps 2 and 3 for one group of rows: one MergeInsert, then one commit transaction. */
  private async flush(rows: VectorRow[]): Promise<void> {
    const newest = new Map<string, VectorRow>();
    for (const row of rows) {
      const other = newest.get(row.chunkId);
      if (!other || other.generation < row.generation) newest.set(row.chunkId, row);
    }
    const unique = [...newest.values()];
    const table = await this.vectors();
    await this.lock.run(async () => {
      this.assertStillBound(table);
      await this.catchUp(table);
      // Recorded before the lock is released, so the next writer in any process refreshes first.
      this.meta.noteLanceVersion(table.name, await table.upsert(unique));
    });
    this.noteCommit();
    await this.options.faults?.afterLanceWrite?.();
    this.meta.commit(
      unique.map((r) => ({ chunkId: r.chunkId, generation: r.generation })),
      this.options.faults?.duringCommit,
    );
  }

  /** Embeds and writes pending records (background writes and recovery). Records superseded meanwhile are skipped by step 3. */
  private async drive(work: readonly PendingWork[]): Promise<number> {
    if (work.length === 0) return 0;
    const info = await this.modelInfo(undefined, true);
    const vectors = await embedChecked(this.options.embedder, info, work.map((w) => w.text), "document", {
      signal: this.closing.signal,
      timeoutMs: this.options.embedTimeoutMs,
    });
    await this.committer.submit(work.map((w, i) => ({ chunkId: w.chunk_id, generation: w.generation, collection: w.collection, docId: w.doc_id, vector: vectors[i]! })));
    return work.length;
  }

  // ---------------------------------------------------------------- read

  /**
   * Searches committed chunks (I1) by meaning (`vector`), by words
   * (`keyword`, BM25), or both fused (`hybrid`, the default). Scores:
   * vector = cosine similarity (-1..1); keyword = BM25 (0.., unbounded);
   * hybrid = weighted blend of both, each normalised to 0..1 within the
   * query's candidates (0..1; see fusion.ts).
   */
  async search(input: SearchInput, options: { signal?: AbortSignal; collections?: readonly string[] } = {}): Promise<SearchResult> {
    this.assertOpen();
    const started = performance.now();
    const q = parseOrThrow(SearchInput, input);
    if (q.collection !== undefined) this.assertCollectionExists(q.collection, options.collections);
    const scope: SearchScope = { collection: q.collection, collections: options.collections, docId: q.doc_id, filter: compileFilter(q.filter) };
    const depth = q.mode === "hybrid" ? Math.max(q.k, HYBRID_DEPTH) : q.k;
    // BM25 runs synchronously on this thread and Lance on its own threads:
    // start the vector query first and run BM25 while Lance works.
    let dispatched!: () => void;
    const lanceBusy = new Promise<void>((resolve) => (dispatched = resolve));
    const vectorRun = q.mode === "keyword" ? Promise.resolve([]) : this.vectorCandidates(q.query, scope, depth, options.signal, dispatched);
    if (q.mode === "hybrid") await Promise.race([lanceBusy, vectorRun.then(noop, noop)]);
    const keyword = q.mode === "vector" ? [] : this.keywordCandidates(q.query, scope, depth);
    const vector = await vectorRun;
    let ranked: Candidate[];
    if (q.mode === "hybrid") {
      const byId = new Map([...keyword, ...vector].map((c) => [c.chunk.chunk_id, c.chunk]));
      const keywordWeight = this.options.keywordWeight;
      ranked = convexFusion([
        { ids: vector.map((c) => c.chunk.chunk_id), scores: vector.map((c) => c.score), weight: 1 - keywordWeight, membershipIsEvidence: false },
        { ids: keyword.map((c) => c.chunk.chunk_id), scores: keyword.map((c) => c.score), weight: keywordWeight, membershipIsEvidence: true },
      ]).map((f) => ({ chunk: byId.get(f.id)!, score: f.score }));
      if (this.rerankerLoad) ranked = await this.rerank(q.query, ranked.slice(0, Math.max(q.k, RERANK_DEPTH)), options.signal);
    } else {
      ranked = q.mode === "vector" ? vector : keyword;
    }
    const max = q.max_chars ?? Number.POSITIVE_INFINITY;
    const results = ranked
      .filter((c) => q.min_score === undefined || c.score >= q.min_score)
      .slice(0, q.k)
      .map(({ chunk, score }): SearchHit => ({
        chunk_id: chunk.chunk_id,
        doc_id: chunk.doc_id,
        collection: chunk.collection,
        score,
        text: chunk.text.length > max ? chunk.text.slice(0, max) : chunk.text,
        metadata: JSON.parse(chunk.metadata) as Metadata,
        truncated: chunk.text.length > max,
      }));
    const reranker = q.mode === "hybrid" && this.options.reranker ? this.options.reranker.name : null;
    return { results, mode: q.mode, model: modelKey(this.info ?? this.options.embedder), reranker, took_ms: performance.now() - started };
  }

  /** The fused candidates, re-scored by the cross-encoder (0..1) and ordered by that score. */
  private async rerank(query: string, candidates: Candidate[], signal?: AbortSignal): Promise<Candidate[]> {
    if (candidates.length === 0) return candidates;
    const reranker = await this.rerankerLoad!.get(signal ? { signal } : {});
    const scores = await reranker.score(query, candidates.map((c) => c.chunk.text), signal);
    return candidates.map((c, i) => ({ chunk: c.chunk, score: scores[i]! })).sort((a, b) => b.score - a.score);
  }

  /** A misspelt collection would otherwise look like "nothing matches"; say so, with the names that exist. */
  private assertCollectionExists(collection: string, visible?: readonly string[]): void {
    if (this.meta.hasCollection(collection)) return;
    // A caller limited to some collections is not told the names of the others.
    const known = this.meta.collections(visible ? Number.MAX_SAFE_INTEGER : 21).filter((c) => !visible || visible.includes(c));
    const empty = visible ? "none of the collections you may search holds chunks" : "the store is empty";
    const list = known.length === 0 ? empty : `existing: ${known.slice(0, 20).join(", ")}${known.length > 20 ? ", ..." : ""}`;
    throw new StoreError("invalid_input", `collection: no chunk is in collection ${JSON.stringify(collection)} (${list}). Omit collection to search all of them.`);
  }

  private keywordCandidates(query: string, scope: SearchScope, want: number): Candidate[] {
    const match = matchExpression(query);
    if (!match) return [];
    return this.meta.keywordSearch(match, scope, want).map((chunk) => ({ chunk, score: chunk.score }));
  }

  /**
   * Nearest neighbours from Lance, joined back through SQLite: a hit counts
   * only if its record is committed at exactly the hit's generation. Hits
   * are dropped when stale, pending, deleted, duplicated or filtered out, so
   * Lance is asked for more until `want` survive or it runs dry.
   */
  private async vectorCandidates(query: string, scope: SearchScope, want: number, signal?: AbortSignal, onDispatched?: () => void): Promise<Candidate[]> {
    const table = await this.vectorsIfBound();
    if (!table) return [];
    const info = await this.modelInfo(signal);
    this.assertStillBound(table);
    const [vector] = await embedChecked(this.options.embedder, info, [query], "query", { signal, timeoutMs: this.options.embedTimeoutMs });
    await this.catchUp(table);
    const where = [
      scope.collection !== undefined ? `collection = ${sqlString(scope.collection)}` : null,
      scope.collections !== undefined ? `collection IN (${scope.collections.map(sqlString).join(", ") || "NULL"})` : null,
      scope.docId !== undefined ? `doc_id = ${sqlString(scope.docId)}` : null,
    ]
      .filter(Boolean)
      .join(" AND ");
    let limit = want * 2 + 10;
    for (;;) {
      const searching = table.search(vector!, limit, where || null, this.options.annEf);
      onDispatched?.();
      const hits = await searching;
      const live = new Map(this.meta.searchable(hits.map((h) => h.chunkId), scope).map((c) => [c.chunk_id, c]));
      const found: Candidate[] = [];
      for (const hit of hits) {
        const chunk = live.get(hit.chunkId);
        if (!chunk || chunk.generation !== hit.generation) continue;
        live.delete(hit.chunkId);
        found.push({ chunk, score: 1 - hit.distance });
        if (found.length === want) break;
      }
      if (found.length >= want || hits.length < limit) return found;
      limit *= 4;
    }
  }

  /** Names of the collections that hold chunks, sorted: for completion and for messages. */
  collections(limit: number): string[] {
    this.assertOpen();
    return this.meta.collections(limit);
  }

  /** Chunks as SQLite holds them, whatever their embedding state; missing ids are left out. */
  get(chunkIds: readonly string[]): ChunkView[] {
    this.assertOpen();
    return this.meta.live(chunkIds).map(toView);
  }

  // ---------------------------------------------------------------- delete

  /**
   * Deletes in SQLite first: the chunk rows go and the trigger tombstones
   * their records, in one transaction, so the chunks vanish from search at
   * once. GC removes the Lance rows shortly after.
   */
  async delete(input: DeleteInput): Promise<DeleteResult> {
    this.assertOpen();
    const d = parseOrThrow(DeleteInput, input);
    const ids =
      d.doc_id !== undefined
        ? this.meta.deleteDocument(d.doc_id, d.collection ?? null)
        : this.meta.deleteChunks(d.chunk_ids ?? [d.chunk_id!]);
    if (ids.length > 0) this.scheduleGc();
    return { deleted: ids.length, chunk_ids: ids, pending_gc: this.meta.tombstoneCount() };
  }

  // ---------------------------------------------------------------- maintenance

  /** Removes tombstoned vectors from Lance, then the tombstones: in that order, so a crash between leaves a retryable claim. */
  gc(): Promise<RunReport> {
    return this.exclusive(SETTINGS.lastGc, async () => {
      let removed = 0;
      for (;;) {
        const tombstones = this.meta.tombstones(2000);
        if (tombstones.length === 0) break;
        const table = await this.vectorsIfBound();
        if (table) {
          await this.lock.run(async () => {
            await this.catchUp(table);
            const version = await table.deleteUpTo(tombstones.map((t) => ({ chunkId: t.chunk_id, generation: t.generation })));
            if (version !== null) this.meta.noteLanceVersion(table.name, version);
          });
          this.noteCommit();
        }
        await this.options.faults?.betweenGcDeletes?.();
        removed += this.meta.dropTombstones(tombstones);
      }
      return { removed, dropped_tables: await this.dropRetiredTables() };
    });
  }

  private noteCommit(): void {
    this.commitsSinceOptimize++;
    this.lastCommitAt = Date.now();
  }

  /** Tables a reindex replaced, once every reader has had time to move to the new one. */
  private async dropRetiredTables(): Promise<string[]> {
    if (!this.meta.retiredTables().some((t) => Date.now() - t.at >= this.options.keepVersionsMs)) return [];
    return this.lock.run(async () => {
      const retired = this.meta.retiredTables();
      const due = retired.filter((t) => Date.now() - t.at >= this.options.keepVersionsMs);
      for (const t of due) if (await VectorTable.exists(this.connection, t.name)) await this.connection.dropTable(t.name);
      this.meta.setSetting(SETTINGS.retired, retired.filter((t) => !due.includes(t)));
      return due.map((t) => t.name);
    });
  }

  /**
   * Re-drives pending records (all of them, or those older than
   * `olderThanMs`, whose writers presumably died) and, with `reconcile`,
   * compares Lance with SQLite: removes rows no live record owns and
   * re-writes committed records whose vector is missing or duplicated.
   */
  recover(options: { olderThanMs?: number; reconcile?: boolean } = {}): Promise<RunReport> {
    return this.exclusive(SETTINGS.lastRecovery, async () => {
      let redriven = 0;
      const cutoff = Date.now() - (options.olderThanMs ?? 0);
      const batch = Math.max(64, this.options.embedder.maxBatchSize);
      let lastBatch: string | null = null;
      for (;;) {
        const work = this.meta.pending(cutoff, batch);
        const signature = work.map((w) => `${w.chunk_id}@${w.generation}`).join(",");
        if (work.length === 0 || signature === lastBatch) break;
        lastBatch = signature;
        redriven += await this.drive(work);
      }
      const reconciled = options.reconcile ? await this.reconcile(true) : null;
      return { redriven, ...(reconciled ? { reconcile: reconciled.problems } : {}) };
    });
  }

  /** Checks I1-I4 over the whole store; with `repair`, fixes what it finds. */
  async verify(options: { repair?: boolean } = {}): Promise<VerifyReport> {
    this.assertOpen();
    if (options.repair) {
      await this.reopenPastBrokenManifests();
      await this.recover({ reconcile: true });
      await this.gc();
      await this.committer.idle();
    }
    return this.reconcile(false);
  }

  /**
   * A table that fails to open after a power cut is opened at an earlier
   * version by setting its newest manifests aside, one at a time; recovery
   * then re-writes whatever those versions held, from SQLite.
   */
  private async reopenPastBrokenManifests(): Promise<void> {
    for (let attempt = 0; attempt < MAX_MANIFESTS_SET_ASIDE; attempt++) {
      try {
        await this.vectorsIfBound();
        return;
      } catch (error) {
        if (!(error instanceof StoreError && error.code === "lance_corrupt")) throw error;
        const aside = quarantineNewestManifest(VectorTable.tableDir(this.paths.lanceDir, this.meta.getSetting<string>(SETTINGS.table) ?? DEFAULT_TABLE));
        if (!aside) throw error;
        this.log(`set aside the unreadable Lance manifest ${aside}`);
      }
    }
    await this.vectorsIfBound();
  }

  private async reconcile(repair: boolean): Promise<VerifyReport> {
    const table = await this.vectorsIfBound();
    const scanStart = Date.now();
    if (table) await this.catchUp(table);
    const keys = table ? await table.keys() : [];
    const records = new Map(this.meta.allRecords().map((r) => [r.chunk_id, r]));
    const rows = new Map<string, Map<number, number>>();
    for (const key of keys) {
      const gens = rows.get(key.chunkId) ?? new Map<number, number>();
      gens.set(key.generation, (gens.get(key.generation) ?? 0) + 1);
      rows.set(key.chunkId, gens);
    }
    const orphans: { chunkId: string; generation: number }[] = [];
    const duplicates: { chunk_id: string; generation: number }[] = [];
    const missing: { chunk_id: string; generation: number }[] = [];
    for (const [chunkId, gens] of rows) {
      const record = records.get(chunkId);
      const top = Math.max(...gens.keys());
      if (!record || record.status === "tombstone") {
        orphans.push({ chunkId, generation: top });
        continue;
      }
      const stale = [...gens.keys()].filter((g) => g < record.generation);
      if (stale.length > 0) orphans.push({ chunkId, generation: Math.max(...stale) });
      if ((gens.get(record.generation) ?? 0) > 1 && record.status === "committed") duplicates.push(record);
    }
    for (const record of records.values()) {
      if (record.status === "committed" && record.state_changed_at < scanStart && !rows.get(record.chunk_id)?.has(record.generation)) missing.push(record);
    }
    const lexical = this.meta.lexicalDrift();
    const pending = [...records.values()].filter((r) => r.status === "pending");
    const tombstones = [...records.values()].filter((r) => r.status === "tombstone");
    const sample = (xs: { chunk_id?: string; chunkId?: string }[]) => xs.slice(0, 5).map((x) => x.chunk_id ?? x.chunkId ?? "");
    const problems = [
      { kind: "orphan_or_stale_lance_rows", count: orphans.length, sample: sample(orphans) },
      { kind: "duplicate_lance_rows", count: duplicates.length, sample: sample(duplicates) },
      { kind: "committed_without_vector", count: missing.length, sample: sample(missing) },
      { kind: "pending_records", count: pending.length, sample: sample(pending) },
      { kind: "tombstones_awaiting_gc", count: tombstones.length, sample: sample(tombstones) },
      {
        kind: "lexical_index_drift",
        count: lexical.missing.length + lexical.extra.length,
        sample: [...lexical.missing.slice(0, 5), ...lexical.extra.slice(0, 5).map((rowid) => `fts rowid ${rowid}`)],
      },
    ].filter((p) => p.count > 0);
    if (repair && lexical.missing.length + lexical.extra.length > 0) this.meta.rebuildLexicalIndex();
    if (repair && table) {
      if (orphans.length > 0) {
        await this.lock.run(async () => {
          await this.catchUp(table);
          const version = await table.deleteUpTo(orphans);
          if (version !== null) this.meta.noteLanceVersion(table.name, version);
        });
      }
      // A fresh generation makes the old rows stale, so the next pass removes them.
      const redo = [...duplicates, ...missing];
      const ids = new Set(redo.map((r) => r.chunk_id));
      this.meta.repend(redo);
      await this.drive(this.meta.pending(Date.now(), Number.MAX_SAFE_INTEGER).filter((w) => ids.has(w.chunk_id)));
    }
    return { ok: problems.length === 0, checked: { records: records.size, lance_rows: keys.length }, problems, repaired: repair };
  }

  /** Compacts Lance, prunes old versions and keeps the ANN index current. */
  optimize(): Promise<RunReport> {
    return this.exclusive(SETTINGS.lastOptimize, async () => {
      const table = await this.vectorsIfBound();
      if (!table) return { skipped: "no vectors yet" };
      this.commitsSinceOptimize = 0;
      await this.lock.run(async () => {
        await this.catchUp(table);
        this.meta.noteLanceVersion(table.name, await table.optimize(this.options.keepVersionsMs));
      });
      const rows = await table.countRows();
      const indexed = await table.hasVectorIndex();
      if (!indexed && rows >= this.options.annMinRows) this.buildAnnIndex(table, rows);
      return { rows, ann_index: indexed };
    });
  }

  /**
   * Index builds take tens of seconds at 100k rows: off the lock, in the
   * background; searches stay exact meanwhile. Not tracked with the other
   * background work: close() must not wait for a build, and an unfinished
   * build simply never commits.
   */
  private buildAnnIndex(table: VectorTable, rows: number): void {
    this.annBuild ??= table
      .createVectorIndex(rows)
      .then((version) => this.meta.noteLanceVersion(table.name, version))
      .catch((error) => this.log(`building the ANN index failed, will retry: ${errorMessage(error)}`))
      .finally(() => (this.annBuild = null));
  }

  /** Waits for background writes, maintenance and index builds (tests and benchmarks use it to reach a quiet state). */
  async settle(): Promise<void> {
    await this.quiesce();
    await this.annBuild;
  }

  private async quiesce(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
    await this.committer.idle();
    await this.maintenance.catch(() => undefined);
  }

  // ---------------------------------------------------------------- status

  async status(chunkIds?: readonly string[]): Promise<StatusReport> {
    this.assertOpen();
    const counts = this.meta.counts();
    const now = Date.now();
    const bound = this.info ?? this.meta.getSetting<EmbedderInfo>(SETTINGS.model) ?? null;
    const table = bound ? await this.vectors() : null;
    let lance: StatusReport["lance"] = null;
    if (table) {
      await this.catchUp(table);
      const stats = await table.stats();
      lance = { ...stats, index_coverage: stats.index && stats.rows > 0 ? stats.index.indexed_rows / stats.rows : null };
    }
    const report: StatusReport = {
      counts: { pending: counts.pending, committed: counts.committed, tombstone: counts.tombstone },
      chunks: counts.chunks,
      oldest_pending_age_ms: counts.oldestPendingAt === null ? null : now - counts.oldestPendingAt,
      tombstones_awaiting_gc: counts.tombstone,
      oldest_tombstone_age_ms: counts.oldestTombstoneAt === null ? null : now - counts.oldestTombstoneAt,
      model: {
        provider: bound?.provider ?? this.options.embedder.provider,
        name: bound?.model ?? this.options.embedder.model,
        dimension: bound?.dimension ?? null,
        distance: bound?.distance ?? null,
        bound: bound !== null,
        load: this.model.report(),
      },
      lance,
      last_recovery: this.meta.getSetting<RunReport>(SETTINGS.lastRecovery) ?? null,
      last_gc: this.meta.getSetting<RunReport>(SETTINGS.lastGc) ?? null,
      last_optimize: this.meta.getSetting<RunReport>(SETTINGS.lastOptimize) ?? null,
      reindex: reindexProgress(this.meta),
      data_dir: this.paths.root,
    };
    if (chunkIds) {
      const records = new Map(this.meta.records(chunkIds).map((r) => [r.chunk_id, r]));
      report.chunk_states = chunkIds.map((id) => {
        const r = records.get(id);
        return { chunk_id: id, status: r?.status ?? "missing", generation: r?.generation ?? null, vector_committed: r?.vector_committed === 1 };
      });
    }
    return report;
  }

  // ---------------------------------------------------------------- lifecycle

  private startBackground(): void {
    if (this.options.background === false) return;
    const every = (ms: number, run: () => Promise<unknown>) => {
      const timer = setInterval(() => void run().catch(() => undefined), ms);
      timer.unref();
      this.timers.push(timer);
    };
    // On open: finish whatever a crashed writer left, then check Lance against SQLite.
    this.track(this.recover({ reconcile: true }).then(() => this.gc()));
    every(this.options.gcIntervalMs, () => this.gc());
    every(this.options.recoveryIntervalMs, () => this.recover({ olderThanMs: this.options.recoveryIntervalMs }));
    every(this.options.reconcileIntervalMs, () => this.recover({ reconcile: true, olderThanMs: this.options.recoveryIntervalMs }));
    every(Math.min(5_000, this.options.gcIntervalMs), async () => {
      // After many commits, or once a burst of writes is over: compacts, and builds the ANN index past its threshold.
      const quiet = this.commitsSinceOptimize > 0 && Date.now() - this.lastCommitAt > this.options.optimizeWhenQuietMs;
      if (this.commitsSinceOptimize >= this.options.optimizeAfterCommits || quiet) await this.optimize();
    });
  }

  private scheduleGc(): void {
    if (this.options.background === false || this.gcSoon) return;
    this.gcSoon = setTimeout(() => {
      this.gcSoon = null;
      this.track(this.gc());
    }, 250);
    this.gcSoon.unref();
  }

  /** Maintenance jobs run one at a time per store and record their outcome in SQLite for `status`. */
  private exclusive(name: string, job: () => Promise<Record<string, unknown>>): Promise<RunReport> {
    const run = this.maintenance.then(async () => {
      this.assertOpen();
      const started = Date.now();
      let report: RunReport;
      try {
        report = { at: new Date(started).toISOString(), took_ms: Date.now() - started, ok: true, ...(await job()) };
        report.took_ms = Date.now() - started;
      } catch (error) {
        report = { at: new Date(started).toISOString(), took_ms: Date.now() - started, ok: false, error: errorMessage(error) };
        if (!this.closed) this.meta.setSetting(name, report);
        throw error;
      }
      if (!this.closed) this.meta.setSetting(name, report);
      return report;
    });
    this.maintenance = run.catch(() => undefined);
    return run;
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch((error) => this.log(errorMessage(error))).finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }

  private log(message: string, level: "info" | "warning" = "warning"): void {
    if (!this.closing.signal.aborted) this.options.log?.(message, level);
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError("closed", "The store is closed.");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const timer of this.timers) clearInterval(timer);
    if (this.gcSoon) clearTimeout(this.gcSoon);
    this.closing.abort();
    await this.quiesce();
    this.closed = true;
    // A native index build may still hold the table: leave the handles to process exit rather than pull them from under it.
    if (!this.annBuild) {
      const table = await this.tablePromise?.catch(() => null);
      table?.close();
      this.connection.close();
    }
    this.lock.close();
    this.meta.close();
    await this.options.embedder.close?.();
    await this.options.reranker?.close?.();
  }
}

function reindexProgress(meta: MetadataDb): StatusReport["reindex"] {
  const state = reindexState(meta);
  if (!state) return null;
  return { target: modelKey(state.target), table: state.table, done: meta.chunksUpTo(state.cursor), total: meta.counts().chunks, started_at: state.started_at };
}

function isUnchanged(current: LiveChunk, write: ChunkWrite, model: string): boolean {
  return (
    current.status === "committed" &&
    current.model === model &&
    current.content_hash === write.contentHash &&
    current.metadata === write.metadata &&
    current.collection === write.collection &&
    current.doc_id === write.docId
  );
}

function toView(chunk: LiveChunk): ChunkView {
  return {
    chunk_id: chunk.chunk_id,
    collection: chunk.collection,
    doc_id: chunk.doc_id,
    text: chunk.text,
    metadata: JSON.parse(chunk.metadata) as Metadata,
    content_hash: chunk.content_hash,
    status: chunk.status,
    generation: chunk.generation,
    created_at: new Date(chunk.created_at).toISOString(),
    updated_at: new Date(chunk.updated_at).toISOString(),
  };
}
