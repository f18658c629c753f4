import { spawn } from "node:child_process";
import { once } from "node:events";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, test } from "vitest";
import { MIGRATIONS_DIR, loadMigrations, migrate } from "../src/store/migrate.js";
import { MetadataDb } from "../src/store/metadata.js";
import { runTs } from "./helpers/processes.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();

function openRaw(dir: string): Database.Database {
  const db = new Database(join(dir, "metadata.db"));
  db.pragma("foreign_keys = ON");
  return db;
}

function applied(db: Database.Database): { version: number; name: string }[] {
  return db.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all() as { version: number; name: string }[];
}

/** A data directory as the seed project (V001-V003) left it, with one committed chunk and one pending. */
function seedV003(dir: string): void {
  const db = openRaw(dir);
  migrate(db, { target: 3 });
  const t = Date.now();
  const chunk = db.prepare("INSERT INTO chunks (chunk_id, collection, doc_id, text, metadata, content_hash, created_at, updated_at) VALUES (?, 'default', ?, ?, '{}', ?, ?, ?)");
  const record = db.prepare("INSERT INTO embedding_records (chunk_id, model, dimension, status, vector_committed, created_at, updated_at) VALUES (?, 'hash:64', 64, ?, ?, ?, ?)");
  chunk.run("old-committed", "doc", "albatross gliding over southern oceans", "h1", t, t);
  record.run("old-committed", "committed", 1, t, t);
  chunk.run("old-pending", "doc", "penguins diving for krill", "h2", t, t);
  record.run("old-pending", "pending", 0, t, t);
  db.close();
}

describe("migrations", () => {
  test("a fresh data directory gets every migration, recorded with checksums, and no foreign key on embedding_records", () => {
    const dir = tmp();
    new MetadataDb(join(dir, "metadata.db")).close();
    const db = openRaw(dir);
    expect(applied(db)).toEqual([
      { version: 1, name: "init" },
      { version: 2, name: "store_settings" },
      { version: 3, name: "embedding_status" },
      { version: 4, name: "durable_tombstones" },
      { version: 5, name: "lexical_index" },
      { version: 6, name: "snapshot_versions" },
      { version: 7, name: "keyword_index_in_lance" },
    ]);
    const checksums = db.prepare("SELECT checksum FROM schema_migrations").all() as { checksum: string }[];
    expect(checksums.every((c) => /^[0-9a-f]{64}$/.test(c.checksum))).toBe(true);
    expect(db.prepare("PRAGMA foreign_key_list(embedding_records)").all()).toEqual([]);
    const columns = (db.prepare("PRAGMA table_info(embedding_records)").all() as { name: string }[]).map((c) => c.name);
    expect(columns).toEqual(expect.arrayContaining(["status", "vector_committed", "generation"]));
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'idx_embed_status'").get()).toBeTruthy();
    db.close();
    // Re-opening applies nothing twice.
    new MetadataDb(join(dir, "metadata.db")).close();
    const again = openRaw(dir);
    expect(applied(again)).toHaveLength(loadMigrations().length);
    again.close();
  });

  test("the seed's CASCADE drops the tombstone at V003; after V004 it survives the chunk delete", () => {
    const v3 = tmp();
    seedV003(v3);
    let db = openRaw(v3);
    db.prepare("DELETE FROM chunks WHERE chunk_id = 'old-committed'").run();
    expect(db.prepare("SELECT * FROM embedding_records WHERE chunk_id = 'old-committed'").get()).toBeUndefined();
    db.close();

    const v4 = tmp();
    seedV003(v4);
    new MetadataDb(join(v4, "metadata.db")).close();
    db = openRaw(v4);
    db.prepare("DELETE FROM chunks WHERE chunk_id = 'old-committed'").run();
    expect(db.prepare("SELECT status FROM embedding_records WHERE chunk_id = 'old-committed'").get()).toEqual({ status: "tombstone" });
    db.close();
  });

  test("a V003-era directory upgrades in place: rows kept, generations assigned, vectors rebuilt by recovery", async () => {
    const dir = tmp();
    seedV003(dir);
    const store = await openStore(dir);
    const status = await store.status(["old-committed", "old-pending"]);
    expect(status.counts).toEqual({ pending: 1, committed: 1, tombstone: 0 });
    const generations = status.chunk_states!.map((c) => c.generation!);
    expect(generations.every((g) => typeof g === "number" && g > 0)).toBe(true);
    expect(new Set(generations).size).toBe(2);

    // The committed record has no vector in Lance yet: verify says so, repair re-embeds it.
    const before = await store.verify();
    expect(before.problems.map((p) => p.kind)).toEqual(expect.arrayContaining(["committed_without_vector", "pending_records"]));
    await store.verify({ repair: true });
    expect((await store.verify()).ok).toBe(true);
    expect((await store.search({ query: "albatross gliding", k: 1 })).results[0]?.chunk_id).toBe("old-committed");
    expect((await store.search({ query: "penguins diving for krill", k: 1 })).results[0]?.chunk_id).toBe("old-pending");
    // New generations continue above the migrated ones.
    const fresh = await store.index({ text: "new after upgrade", chunk_id: "new" });
    const current = (await store.status(["old-committed", "old-pending"])).chunk_states!.map((c) => c.generation!);
    expect(fresh.generation).toBeGreaterThan(Math.max(...generations));
    expect(current.every((g) => g < fresh.generation)).toBe(true);
    await store.close();
  });

  test("an edited, already-applied migration is refused with the way out", () => {
    const dir = tmp();
    const migrations = join(dir, "migrations");
    cpSync(MIGRATIONS_DIR, migrations, { recursive: true });
    const db = openRaw(dir);
    migrate(db, { dir: migrations });
    writeFileSync(join(migrations, "V002__store_settings.sql"), "-- edited\nCREATE TABLE store_settings (key TEXT);\n");
    expect(() => migrate(db, { dir: migrations })).toThrow(/V002__store_settings\.sql was edited after it was applied.*add the change as a new migration/);
    db.close();
  });

  test("a directory from a newer release is refused", () => {
    const dir = tmp();
    const db = openRaw(dir);
    migrate(db);
    db.prepare("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (99, 'future', 'x', 0)").run();
    expect(() => migrate(db)).toThrow(/V099__future .*newer release/);
    db.close();
  });

  test("a failing migration applies nothing of itself", () => {
    const dir = tmp();
    const migrations = join(dir, "migrations");
    cpSync(MIGRATIONS_DIR, migrations, { recursive: true });
    const shipped = loadMigrations().length;
    const next = String(shipped + 1).padStart(3, "0");
    writeFileSync(join(migrations, `V${next}__broken.sql`), "CREATE TABLE half_done (x);\nTHIS IS NOT SQL;\n");
    const db = openRaw(dir);
    expect(() => migrate(db, { dir: migrations })).toThrow(new RegExp(`V${next}__broken failed.*Nothing of it was applied`));
    expect(applied(db)).toHaveLength(shipped);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half_done'").get()).toBeUndefined();
    db.close();
  });

  test("processes opening a new data directory at the same moment apply each migration once", async () => {
    const dir = tmp();
    // Every process waits for the same instant, so their migrations overlap.
    const startAt = String(Date.now() + 3000);
    const results = await Promise.all(Array.from({ length: 4 }, () => runTs("test/fixtures/open-metadata.ts", [join(dir, "metadata.db"), startAt])));
    for (const r of results) expect(r).toMatchObject({ code: 0, stderr: "" });
    const db = openRaw(dir);
    expect(applied(db)).toHaveLength(loadMigrations().length);
    db.close();
  });

  test("opening a store waits out another process's write where SQLite would fail at once rather than risk a deadlock", async () => {
    const dir = tmp();
    const path = join(dir, "metadata.db");
    // Another process holds the write lock of a database still in rollback mode, and lets go 3 s after it took it.
    const holder = spawn(
      process.execPath,
      ["-e", `const db = new (require("better-sqlite3"))(process.argv[1]); db.exec("CREATE TABLE early (x); BEGIN IMMEDIATE; INSERT INTO early VALUES (1)"); console.log("held"); setTimeout(() => db.exec("COMMIT"), 3000);`, path],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await once(holder.stdout!, "data");
    // Switching that database to WAL meets SQLITE_BUSY without SQLite's busy handler; the open must wait like the handler would.
    new MetadataDb(path).close();
    await once(holder, "exit");
    const db = openRaw(dir);
    expect(applied(db)).toHaveLength(loadMigrations().length);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
  });
});
