import { modelKey } from "../embed/embedder.js";
import { appendRows } from "./append.js";
import { toChunkWrite } from "./chunk-input.js";
import type { StoreCore } from "./core.js";
import { embedChecked } from "./embedding.js";
import { StoreError, errorMessage } from "./errors.js";
import { GroupCommitter } from "./group-commit.js";
import type { ChunkWrite, LiveChunk, PendingWork } from "./metadata-store.js";
import { DeleteInput, IndexInput, parseOrThrow } from "./schemas.js";
import type { DeleteResult, IndexResult, WriteOptions } from "./types.js";
import type { VectorRow } from "./vector-table.js";
import { versionRow } from "./version-row.js";

export interface DocumentReplace {
  docId: string;
  collection: string;
}

/**
 * The write protocol (docs/ARCHITECTURE.md, "The write"):
 * (1) chunks and `pending` records with fresh generations in one SQLite
 * transaction; (2) one Lance append per group of rows, shared by
 * concurrent callers; (3) a compare-and-set commit on (chunk_id,
 * generation). Deletes are one SQLite transaction that tombstones the
 * records; GC removes the vectors later.
 */
export class Writer {
  private readonly committer: GroupCommitter<VectorRow>;

  constructor(private readonly core: StoreCore) {
    this.committer = new GroupCommitter((rows) => this.flush(rows), core.options.maxRowsPerCommit);
  }

  /**
   * Indexes chunks. With `wait` (default) the vectors are computed first, so
   * an embedder failure writes nothing; then step 1 marks them pending, one
   * Lance append writes them and step 3 commits them. Without `wait`,
   * step 1 runs at once and a background worker embeds and commits. With
   * `replace`, the document's chunks not among `inputs` are deleted in the
   * same step-1 transaction.
   */
  async write(inputs: readonly unknown[], options: WriteOptions, replace: DocumentReplace | null): Promise<{ results: IndexResult[]; removed: string[] }> {
    const core = this.core;
    core.assertOpen();
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
    core.assertWritable();
    const info = await core.modelInfo(options.signal);
    await core.assertStillBound();
    const model = modelKey(info);
    const live = new Map((await core.meta.live(writes.map((w) => w.chunkId))).map((c) => [c.chunk_id, c]));
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
      ? await embedChecked(core.options.embedder, info, changed.map((c) => c.write.text), "document", { signal: options.signal, timeoutMs: core.options.embedTimeoutMs })
      : null;
    if (options.signal?.aborted) throw new StoreError("aborted", "The request was cancelled before anything was written.");

    // Without wait, `pending` is the acknowledgement, so step 1 itself must be durable.
    const { generations, removed } = await core.meta
      .writePending(changed.map((c) => c.write), { model, dimension: info.dimension }, { durable: !wait, replace: keep })
      .catch((error: unknown) => {
        throw core.storageFailure(error, "saving the chunks", "Nothing was written.");
      });
    if (removed.length > 0) core.onGcWanted();
    await core.options.faults?.afterPending?.();
    const versions = changed.map(({ write, at }, i): PendingWork => {
      results[at] = { chunk_id: write.chunkId, status: wait ? "committed" : "pending", generation: generations[i]!, content_hash: write.contentHash };
      return { chunk_id: write.chunkId, generation: generations[i]!, collection: write.collection, doc_id: write.docId, text: write.text, metadata: write.metadata };
    });

    if (!vectors) {
      core.track(this.drive(versions));
      return { results, removed };
    }
    try {
      await this.committer.submit(versions.map((version, i) => versionRow(version, vectors[i]!)));
    } catch (error) {
      const pendingNote = "The chunks are saved as pending and recovery will retry them; embedding_status shows their state.";
      const failure = core.storageFailure(error, "writing the vectors", pendingNote);
      if (failure !== error) throw failure;
      throw new StoreError("lance_write_failed", `Writing the vectors failed: ${errorMessage(error)}. ${pendingNote}`, { cause: error });
    }
    options.onProgress?.(total, total);
    return { results, removed };
  }

  /** Embeds and writes pending records (background writes and recovery). Records superseded meanwhile are skipped by step 3. */
  async drive(work: readonly PendingWork[]): Promise<number> {
    if (work.length === 0) return 0;
    const core = this.core;
    const info = await core.modelInfo(undefined, true);
    const vectors = await embedChecked(core.options.embedder, info, work.map((w) => w.text), "document", {
      signal: core.closing.signal,
      timeoutMs: core.options.embedTimeoutMs,
    });
    await this.committer.submit(work.map((w, i) => versionRow(w, vectors[i]!)));
    return work.length;
  }

  /** Resolves once every submitted group has been written and committed (or failed). */
  idle(): Promise<void> {
    return this.committer.idle();
  }

  /**
   * Deletes in SQLite first: the chunk rows go and the trigger tombstones
   * their records, in one transaction, so the chunks vanish from search at
   * once. GC removes the Lance rows shortly after.
   */
  async delete(input: DeleteInput): Promise<DeleteResult> {
    const core = this.core;
    core.assertOpen();
    const d = parseOrThrow(DeleteInput, input);
    core.assertWritable();
    const ids = await (d.doc_id !== undefined ? core.meta.deleteDocument(d.doc_id, d.collection ?? null) : core.meta.deleteChunks(d.chunk_ids ?? [d.chunk_id!])).catch(
      (error: unknown) => {
        throw core.storageFailure(error, "deleting the chunks", "Nothing was deleted.");
      },
    );
    if (ids.length > 0) core.onGcWanted();
    return { deleted: ids.length, chunk_ids: ids, pending_gc: await core.meta.tombstoneCount() };
  }

  /** Steps 2 and 3 for one group of rows: one Lance append, then one commit transaction. */
  private async flush(rows: VectorRow[]): Promise<void> {
    const core = this.core;
    const newest = new Map<string, VectorRow>();
    for (const row of rows) {
      const other = newest.get(row.chunkId);
      if (!other || other.generation < row.generation) newest.set(row.chunkId, row);
    }
    const unique = [...newest.values()];
    const table = await core.vectors();
    await core.assertWritable().run(async () => {
      await core.assertStillBound(table);
      await core.catchUp(table);
      // A version superseded, deleted or committed by recovery while it was embedded writes no row: GC may already have
      // collected its generation, and nothing would collect a row added now. Checked under the lock, so a supersession
      // after this check is collected by a GC whose Lance delete waits for this insert.
      const pending = await core.meta.stillPending(unique);
      const rows = unique.filter((r) => pending.has(r.generation));
      // Recorded before the lock is released, so the next writer in any process refreshes first.
      if (rows.length > 0) await appendRows(core.meta, table, rows);
      await core.options.faults?.insideCommitLock?.();
      const folded = await core.watchdog.watch("keyword index refresh", core.options.writeFoldLimitMs, () => table.foldIfSmall());
      if (folded) await core.meta.noteLanceVersion(table.name, folded);
    });
    core.noteCommit();
    await core.options.faults?.afterLanceWrite?.();
    await core.meta.commit(
      unique.map((r) => ({ chunkId: r.chunkId, generation: r.generation })),
      core.options.faults?.duringCommit,
    );
  }
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
