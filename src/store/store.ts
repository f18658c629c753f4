import { existsSync } from "node:fs";
import { modelKey, type EmbedderInfo } from "../embed/embedder.js";
import { StoreCore } from "./core.js";
import { StoreError } from "./errors.js";
import { Maintenance } from "./maintenance.js";
import { memoryReport, type MemoryReport } from "./memory.js";
import { openBackend } from "./backend.js";
import { readSettingIfPresent } from "./metadata.js";
import { redactedUrl } from "./postgres/url.js";
import type { ChunkVersionRow } from "./metadata-store.js";
import { DEFAULT_COLLECTION, dataPaths, type DataPaths } from "./paths.js";
import type { DeleteInput, IndexInput, Metadata, SearchInput } from "./schemas.js";
import { search, type SearchOptions } from "./search.js";
import { SETTINGS } from "./settings-keys.js";
import { statusReport } from "./status.js";
import type {
  ChunkView,
  DeleteResult,
  IndexResult,
  RunReport,
  SearchResult,
  StatusReport,
  StoreLocation,
  StoreOptions,
  VerifyReport,
  WriteOptions,
} from "./types.js";
import { reconcile, reopenPastBrokenManifests } from "./verify.js";
import { probeLogLine } from "./vector-storage.js";
import { Writer } from "./write.js";

export type * from "./types.js";

/**
 * The retrieval store: chunks and commit state in SQLite, vectors in Lance,
 * written with the three-step protocol of docs/ARCHITECTURE.md and kept
 * convergent by GC and recovery. This class only wires the jobs together:
 * the write protocol (write.ts), search (search.ts), housekeeping
 * (maintenance.ts), verification (verify.ts) and status (status.ts), all
 * over the shared handles of core.ts.
 */
export class Store {
  readonly paths: DataPaths;
  private readonly writer: Writer;
  private readonly maintenance: Maintenance;

  private constructor(private readonly core: StoreCore) {
    this.paths = core.paths;
    this.writer = new Writer(core);
    this.maintenance = new Maintenance(core, this.writer);
  }

  /** The model a store is bound to, read without creating or migrating anything; null for a new store. */
  static async readBinding(location: StoreLocation): Promise<EmbedderInfo | null> {
    if (location.database === undefined) return readSettingIfPresent<EmbedderInfo>(dataPaths(location.dataDir).metadataDb, SETTINGS.model) ?? null;
    const { probePostgresStore } = await import("./postgres/backend.js");
    return ((await probePostgresStore(location.database)).binding as EmbedderInfo | null) ?? null;
  }

  /** Whether a store is there: the data directory's metadata.db, or the store's tables in the database. Creates nothing. */
  static async exists(location: StoreLocation): Promise<boolean> {
    if (location.database === undefined) return existsSync(dataPaths(location.dataDir).metadataDb);
    const { probePostgresStore } = await import("./postgres/backend.js");
    return (await probePostgresStore(location.database)).exists;
  }

  /**
   * Opens (creating if needed) the store: the data directory, or with
   * `database` the PostgreSQL database and the vector location. Cheap: no
   * model is loaded and no Lance table is opened until first use. Refuses
   * an embedder other than the one the store is bound to.
   */
  static async open(options: StoreOptions): Promise<Store> {
    const paths = dataPaths(options.dataDir);
    const backend = await openBackend(options, { log: (message) => options.log?.(message, "warning") });
    try {
      const bound = await backend.meta.getSetting<EmbedderInfo>(SETTINGS.model);
      if (bound && modelKey(bound) !== modelKey(options.embedder)) {
        throw new StoreError(
          "model_mismatch",
          `${options.database === undefined ? `The data directory ${paths.root}` : `The store in ${redactedUrl(options.database)}`} is bound to the embedder ${modelKey(bound)} (${bound.dimension}-d), but ${modelKey(options.embedder)} was requested. ` +
            `Start with --embedder ${modelKey(bound)}, or re-embed the store with \`retrieval-mcp reindex --embedder ${modelKey(options.embedder)} ${options.database === undefined ? `--data-dir ${paths.root}` : "--database <its URL>"}\`.`,
        );
      }
      const core = new StoreCore(options, backend);
      if (bound) core.info = bound;
      const probed = probeLogLine(backend.storage);
      if (probed) options.log?.(probed.message, probed.level);
      if (backend.readOnlyBecause !== null) {
        options.log?.(`opened ${paths.root} read-only (${backend.readOnlyBecause}): searches and status work, writes are refused`, "warning");
      }
      const store = new Store(core);
      store.maintenance.start();
      return store;
    } catch (error) {
      await backend.close();
      throw error;
    }
  }

  // ---------------------------------------------------------------- write

  async index(input: unknown, options: { wait?: boolean; signal?: AbortSignal } = {}): Promise<IndexResult> {
    const [result] = await this.indexMany([input], options);
    return result!;
  }

  /** Indexes chunks with the three-step write (see Writer.write). */
  async indexMany(inputs: readonly unknown[], options: WriteOptions = {}): Promise<IndexResult[]> {
    return (await this.writer.write(inputs, options, null)).results;
  }

  /**
   * Makes `inputs` the whole content of a document: chunks of the document
   * not among them are deleted in the same step-1 transaction that writes
   * the new ones, so a crash leaves either the old or the new document.
   */
  replaceDocument(
    document: { doc_id: string; collection?: string },
    inputs: readonly Omit<IndexInput, "doc_id" | "collection">[],
    options: WriteOptions = {},
  ): Promise<{ results: IndexResult[]; removed: string[] }> {
    const replace = { docId: document.doc_id, collection: document.collection ?? DEFAULT_COLLECTION };
    return this.writer.write(
      inputs.map((input) => ({ ...input, doc_id: replace.docId, collection: replace.collection })),
      options,
      replace,
    );
  }

  delete(input: DeleteInput): Promise<DeleteResult> {
    return this.writer.delete(input);
  }

  // ---------------------------------------------------------------- read

  search(input: SearchInput, options: SearchOptions = {}): Promise<SearchResult> {
    return search(this.core, input, options);
  }

  /** Names of the collections that hold chunks, sorted: for completion and for messages. */
  collections(limit: number): Promise<string[]> {
    this.core.assertOpen();
    return this.core.meta.collections(limit);
  }

  /** Chunks in the version search serves, with any rewrite in flight; missing ids are left out. */
  async get(chunkIds: readonly string[]): Promise<ChunkView[]> {
    this.core.assertOpen();
    return (await this.core.meta.versions(chunkIds)).map(toView);
  }

  /** Chunks of one document, in chunk_id order, as `get` shows them. */
  async documentChunks(docId: string, collection?: string): Promise<ChunkView[]> {
    this.core.assertOpen();
    return (await this.core.meta.documentVersions(docId, collection ?? null)).map(toView);
  }

  /**
   * Ids of the documents in a collection whose doc_id starts with `prefix`
   * (e.g. the files ingested from under a folder), read from the index.
   */
  async documentIds(collection: string, prefix: string): Promise<string[]> {
    this.core.assertOpen();
    if (prefix === "") throw new StoreError("invalid_input", "prefix: give the start of the doc_ids to list, e.g. a folder path ending in a separator.");
    return this.core.meta.documentIds(collection, prefix);
  }

  status(chunkIds?: readonly string[]): Promise<StatusReport> {
    return statusReport(this.core, chunkIds);
  }

  /** This process's memory, with what this store's Lance caches hold: for a long-running server (embedding_status). */
  async memory(): Promise<MemoryReport> {
    return memoryReport(await this.core.lanceCacheUsage());
  }

  // ---------------------------------------------------------------- maintenance

  gc(): Promise<RunReport> {
    return this.maintenance.gc();
  }

  recover(options: { olderThanMs?: number; reconcile?: boolean } = {}): Promise<RunReport> {
    return this.maintenance.recover(options);
  }

  optimize(): Promise<RunReport> {
    return this.maintenance.optimize();
  }

  /** Checks I1-I4 over the whole store; with `repair`, fixes what it finds, then checks again. */
  async verify(options: { repair?: boolean } = {}): Promise<VerifyReport> {
    this.core.assertOpen();
    if (options.repair) {
      await reopenPastBrokenManifests(this.core);
      await this.maintenance.recover({ reconcile: true });
      await this.maintenance.gc();
      await this.writer.idle();
    }
    return reconcile(this.core, this.writer, false);
  }

  /** Waits for background writes, maintenance and index builds (tests and benchmarks use it to reach a quiet state). */
  async settle(): Promise<void> {
    await this.quiesce();
    await this.maintenance.annIdle();
  }

  private async quiesce(): Promise<void> {
    await this.core.drainBackground();
    await this.writer.idle();
    await this.maintenance.idle();
  }

  async close(): Promise<void> {
    const core = this.core;
    if (core.closed) return;
    this.maintenance.stop();
    core.closing.abort();
    await this.quiesce();
    core.closed = true;
    // A native index build may still hold the table: leave the handles to process exit rather than pull them from under it.
    if (!this.maintenance.building) (await core.openedTable())?.close();
    await core.release({ leaveLance: this.maintenance.building });
    await core.options.embedder.close?.();
    await core.options.reranker?.close?.();
  }
}

function toView(row: ChunkVersionRow): ChunkView {
  return {
    chunk_id: row.chunk_id,
    collection: row.collection,
    doc_id: row.doc_id,
    text: row.text,
    metadata: JSON.parse(row.metadata) as Metadata,
    content_hash: row.content_hash,
    status: row.status,
    generation: row.generation,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
    pending:
      row.pending_generation === null
        ? null
        : { generation: row.pending_generation, content_hash: row.pending_content_hash!, updated_at: new Date(row.pending_updated_at!).toISOString() },
  };
}
