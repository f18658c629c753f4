import type * as lancedb from "./lance.js";
import { CACHE_BYTES_PER_INDEX_BYTE, connectLance, type LanceCacheUsage, type LanceDatabase } from "./lance-connection.js";
import type { VectorsLocation } from "./vectors-location.js";

/** A table opened on a connection of its own (see TableHandle). */
export interface Handle {
  db: LanceDatabase;
  table: lancedb.Table;
  /** Calls under way on this handle. */
  users: number;
  /** Replaced by a newer handle: closed once its last call ends. */
  retired: boolean;
  /** Resolves once the handle has closed. */
  closed: Promise<void>;
  markClosed(): void;
}

function closeHandle(handle: Handle): void {
  handle.table.close();
  handle.db.close();
  handle.markClosed();
}

/** Marks a handle replaced (or its table closed); it closes now if no call is under way on it, else when the last one ends (see use()). */
function retire(handle: Handle): void {
  handle.retired = true;
  if (handle.users === 0) closeHandle(handle);
}

/**
 * One Lance table, opened on a connection of its own so that the
 * connection's caches hold only what this table read, and renewable: a
 * fresh connection starts with empty caches (openFresh(), switchTo()).
 * Every use of the table goes through use(), so a handle being replaced is
 * closed only once the calls that started on it have ended.
 */
export class TableHandle {
  /** What the live indexes take in the caches per byte of their files: measured when last loaded whole (prewarm()), assumed until then. */
  cacheBytesPerIndexByte = CACHE_BYTES_PER_INDEX_BYTE;

  private constructor(
    private handle: Handle,
    private readonly location: VectorsLocation,
    readonly name: string,
  ) {}

  static async open(location: VectorsLocation, name: string): Promise<TableHandle> {
    return new TableHandle(await openHandle(location, name), location, name);
  }

  /** Runs `work` on the current table; a renewal meanwhile leaves this call on the handle it started with. */
  use<T>(work: (table: lancedb.Table) => Promise<T>): Promise<T> {
    return this.onCurrent((handle) => work(handle.table));
  }

  private async onCurrent<T>(work: (handle: Handle) => Promise<T>): Promise<T> {
    const handle = this.handle;
    handle.users++;
    try {
      return await work(handle);
    } finally {
      handle.users--;
      if (handle.retired && handle.users === 0) closeHandle(handle);
    }
  }

  /** The table on a new connection, whose caches are empty. */
  openFresh(): Promise<Handle> {
    return openHandle(this.location, this.name);
  }

  /**
   * Moves to a handle from openFresh(), at the table's latest version; the
   * old connection closes once the calls under way on it have ended, which
   * `retired` tells. Call where no write can be under way on this table
   * (under the commit lock).
   */
  async switchTo(fresh: Handle): Promise<{ retired: Promise<void> }> {
    await fresh.table.checkoutLatest();
    const old = this.handle;
    this.handle = fresh;
    retire(old);
    return { retired: old.closed };
  }

  /**
   * Loads every live index into the current connection's caches (Lance's
   * prewarm), and learns from it what they take there per byte of their
   * files: Lance counts more than the files (1,008 MB for the 474 MB
   * vector index of 1M chunks).
   */
  prewarm(): Promise<void> {
    return this.onCurrent(async ({ table, db }) => {
      const indices = await table.listIndices();
      for (const index of indices) await table.prewarmIndex(index.name);
      const fileBytes = liveIndexBytes(indices);
      if (fileBytes !== null && fileBytes > 0) this.cacheBytesPerIndexByte = db.cacheUsage().bytes / fileBytes;
    });
  }

  cacheUsage(): LanceCacheUsage {
    return this.handle.db.cacheUsage();
  }

  close(): void {
    retire(this.handle);
  }
}

/** Bytes of these indexes' files, by Lance's count; null if one does not track its size. */
export function liveIndexBytes(indices: readonly lancedb.IndexConfig[]): number | null {
  return indices.every((i) => i.sizeBytes !== undefined) ? indices.reduce((sum, i) => sum + i.sizeBytes!, 0) : null;
}

async function openHandle(location: VectorsLocation, name: string): Promise<Handle> {
  const db = await connectLance(location);
  try {
    const table = await db.connection.openTable(name);
    let markClosed!: () => void;
    const closed = new Promise<void>((resolve) => (markClosed = resolve));
    return { db, table, users: 0, retired: false, closed, markClosed };
  } catch (error) {
    db.close();
    throw error;
  }
}
