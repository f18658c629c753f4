import type { Metadata } from "../../src/store/schemas.js";

/**
 * A simple in-memory model of what the store must show (docs/ARCHITECTURE.md):
 * for every live chunk exactly one version, the newest committed one, with
 * the newest write still in flight (if any) beside it. It knows nothing of
 * Lance, SQLite or generations: only the order of writes, which of them
 * have committed, and the document replacements in flight.
 *
 * The commit rules mirror the write protocol: a plain write's chunks commit
 * when its step 3 runs; a document replacement is one write set whose
 * members commit together, removing the document's other chunks in the same
 * step, unless those were written again after the replacement was issued.
 * A replacement whose last unwritten member is deleted completes at that
 * moment (its removals were acknowledged); one whose new chunks are all
 * written again before it commits hands its removals to that newer write.
 */

export interface Content {
  chunk_id: string;
  text: string;
  metadata: Metadata;
  collection: string;
  doc_id: string | null;
}

/** A version of a chunk; `generation` is what the store answered when it was written (null: the write failed, so the store never said). */
export interface Version extends Content {
  generation: number | null;
}

interface WriteSet {
  members: Set<string>;
  /** Chunk id -> the write sequence number it had when the replacement was issued: removed only if not written since. */
  removals: Map<string, number>;
}

interface PendingWrite extends Version {
  seq: number;
  set: WriteSet | null;
  /** Its vector is in Lance and step 3 has marked it (write-set members wait there for the rest of their set). */
  written: boolean;
}

export interface ChunkModel {
  committed: Version | null;
  pending: PendingWrite | null;
  /** Deleted, and GC has not collected the tombstone yet. */
  tombstone: boolean;
  /** Sequence number of the newest write of this chunk. */
  lastSeq: number;
}

/** One chunk of one write, as step 3 commits it: only while it is still the chunk's pending version. */
export interface WriteKey {
  chunk_id: string;
  seq: number;
}

export interface Staged {
  /** Per input: whether the store must write it (false: unchanged, nothing written). */
  changed: boolean[];
  keys: WriteKey[];
  /** Chunks a replacement removes (now, or when it commits). */
  removed: string[];
}

export class VisibilityModel {
  private readonly chunks = new Map<string, ChunkModel>();
  /** Background writes (wait: false) held before their step 2, oldest first: each commits its keys when let go. */
  private readonly held: WriteKey[][] = [];
  private seq = 0;
  /** Source of distinct text revisions, so every new text differs from every earlier one. */
  revision = 0;

  constructor(readonly ids: readonly string[]) {
    for (const id of ids) this.chunks.set(id, { committed: null, pending: null, tombstone: false, lastSeq: 0 });
  }

  chunk(id: string): Readonly<ChunkModel> {
    return this.chunks.get(id)!;
  }

  get heldWrites(): number {
    return this.held.length;
  }

  isLive(id: string): boolean {
    const c = this.chunk(id);
    return c.committed !== null || c.pending !== null;
  }

  /** The store's idea of "unchanged": the committed version has this very content and no write is in flight. */
  isUnchanged(input: Content): boolean {
    const { committed, pending } = this.chunk(input.chunk_id);
    return pending === null && committed !== null && sameContent(committed, input);
  }

  /** Live chunks of a document: by their committed version or their pending one (a delete or replacement takes both). */
  idsOfDocument(docId: string, collection: string | null): string[] {
    const inDoc = (v: Content | null) => v !== null && v.doc_id === docId && (collection === null || v.collection === collection);
    return this.ids.filter((id) => inDoc(this.chunk(id).committed) || inDoc(this.chunk(id).pending));
  }

  hasCollection(collection: string): boolean {
    return this.ids.some((id) => this.chunk(id).committed?.collection === collection || this.chunk(id).pending?.collection === collection);
  }

  /**
   * Step 1 of a write (or a replacement of `replace`'s document): changed
   * chunks get a pending version that supersedes any earlier one; a
   * replacement that writes nothing removes the document's other chunks at
   * once, otherwise when it commits.
   */
  stage(inputs: readonly Content[], replace: { doc_id: string; collection: string } | null): Staged {
    const changed = inputs.map((input) => !this.isUnchanged(input));
    const keep = new Set(inputs.map((i) => i.chunk_id));
    const removed = replace ? this.idsOfDocument(replace.doc_id, replace.collection).filter((id) => !keep.has(id)) : [];
    const written = inputs.filter((_, i) => changed[i]);
    let set: WriteSet | null = null;
    if (replace && written.length === 0) this.removeNow(removed);
    else if (replace) set = { members: new Set(written.map((w) => w.chunk_id)), removals: new Map(removed.map((id) => [id, this.chunk(id).lastSeq])) };
    const orphaned = new Set<WriteSet>();
    const keys = written.map((input) => {
      const c = this.chunks.get(input.chunk_id)!;
      if (c.pending?.set) {
        c.pending.set.members.delete(input.chunk_id);
        orphaned.add(c.pending.set);
      }
      const seq = ++this.seq;
      c.pending = { ...input, generation: null, seq, set, written: false };
      c.lastSeq = seq;
      c.tombstone = false;
      return { chunk_id: input.chunk_id, seq };
    });
    for (const other of orphaned) {
      if (other === set) continue;
      if (other.members.size > 0) {
        this.completeIfWritten(other);
        continue;
      }
      // Overtaken entirely: its removals go when the write that overtook it commits, never before.
      set ??= { members: new Set(written.map((w) => w.chunk_id)), removals: new Map() };
      for (const w of written) this.chunks.get(w.chunk_id)!.pending!.set = set;
      for (const [id, seq] of other.removals) set.removals.set(id, Math.max(seq, set.removals.get(id) ?? 0));
      other.removals.clear();
    }
    return { changed, keys, removed };
  }

  /** What the store answered for a write's chunks. */
  noteGenerations(keys: readonly WriteKey[], generations: readonly number[]): void {
    keys.forEach((key, i) => {
      const pending = this.chunk(key.chunk_id).pending;
      if (pending?.seq === key.seq) pending.generation = generations[i]!;
    });
  }

  /** Step 3 for these keys: those still pending commit (write-set members once their whole set is written). */
  commit(keys: readonly WriteKey[]): void {
    const sets = new Set<WriteSet>();
    for (const key of keys) {
      const c = this.chunks.get(key.chunk_id)!;
      if (c.pending?.seq !== key.seq) continue;
      if (c.pending.set) {
        c.pending.written = true;
        sets.add(c.pending.set);
      } else {
        this.promote(key.chunk_id);
      }
    }
    for (const set of sets) this.completeIfWritten(set);
  }

  /** A delete: both versions go at once; a replacement that loses its last unwritten member to it completes. */
  delete(ids: readonly string[]): string[] {
    const live = ids.filter((id) => this.isLive(id));
    this.removeNow(live);
    return live;
  }

  /** A background write held before its vectors were written. */
  hold(keys: readonly WriteKey[]): void {
    this.held.push([...keys]);
  }

  /** The oldest held background write goes ahead and commits whatever of it is still pending. */
  releaseOldest(): void {
    const keys = this.held.shift();
    if (keys) this.commit(keys);
  }

  /** The store closed (or crashed) under held background writes: they stay pending for recovery. */
  abandonHeld(): void {
    this.held.length = 0;
  }

  /** Recovery re-drives every pending version to committed. */
  recover(): void {
    this.commit(this.ids.flatMap((id) => {
      const p = this.chunk(id).pending;
      return p ? [{ chunk_id: id, seq: p.seq }] : [];
    }));
  }

  /** GC forgets the tombstones (what it deletes from Lance is never visible). */
  gc(): void {
    for (const c of this.chunks.values()) c.tombstone = false;
  }

  /** Records as the store counts them: a chunk's newest write decides. */
  counts(): { pending: number; committed: number; tombstone: number; rewrites: number } {
    const all = [...this.chunks.values()];
    return {
      pending: all.filter((c) => c.pending).length,
      committed: all.filter((c) => c.committed && !c.pending).length,
      tombstone: all.filter((c) => c.tombstone).length,
      rewrites: all.filter((c) => c.committed && c.pending).length,
    };
  }

  private promote(id: string): void {
    const c = this.chunks.get(id)!;
    const { seq: _seq, set: _set, written: _written, ...version } = c.pending!;
    c.committed = version;
    c.pending = null;
  }

  private removeNow(ids: readonly string[]): void {
    const sets = new Set<WriteSet>();
    for (const id of ids) {
      const c = this.chunks.get(id)!;
      if (!this.isLive(id)) continue;
      if (c.pending?.set) {
        c.pending.set.members.delete(id);
        sets.add(c.pending.set);
      }
      c.committed = null;
      c.pending = null;
      c.tombstone = true;
    }
    for (const set of sets) this.completeIfWritten(set);
  }

  /** A write set commits as one once no member is left unwritten: members become committed, removals go. */
  private completeIfWritten(set: WriteSet): void {
    for (const id of set.members) if (!this.chunk(id).pending!.written) return;
    for (const id of set.members) this.promote(id);
    set.members.clear();
    this.removeNow([...set.removals].filter(([id, seq]) => this.isLive(id) && this.chunk(id).lastSeq <= seq).map(([id]) => id));
    set.removals.clear();
  }
}

export function sameContent(a: Content, b: Content): boolean {
  return a.text === b.text && a.collection === b.collection && a.doc_id === b.doc_id && JSON.stringify(sortKeys(a.metadata)) === JSON.stringify(sortKeys(b.metadata));
}

function sortKeys(metadata: Metadata): Metadata {
  return Object.fromEntries(Object.entries(metadata).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}
