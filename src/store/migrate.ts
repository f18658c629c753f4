import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type Database from "better-sqlite3";
import { StoreError } from "./errors.js";
import { registerSqlFunctions } from "./sql-functions.js";

/** Shipped next to `src/` and `dist/`, both two levels below the package root. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));

const FILE_NAME = /^V(\d{3})__([a-z0-9_]+)\.sql$/;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateOptions {
  dir?: string;
  /** Stop after this version (tests build older data directories with it). */
  target?: number;
}

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const match = FILE_NAME.exec(file);
    if (!match) continue;
    const sql = readFileSync(join(dir, file), "utf8");
    migrations.push({
      version: Number(match[1]),
      name: match[2]!,
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
    });
  }
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new StoreError("migration_failed", `Migrations in ${dir} must be numbered V001, V002, ... without gaps; found V${String(m.version).padStart(3, "0")} at position ${i + 1}.`);
    }
  });
  return migrations;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

function label(row: { version: number; name: string }): string {
  return `V${String(row.version).padStart(3, "0")}__${row.name}`;
}

/** Refuses a data directory whose applied migrations this release does not know, or knows with other contents. */
function checkApplied(applied: readonly AppliedRow[], byVersion: ReadonlyMap<number, Migration>): void {
  for (const row of applied) {
    const m = byVersion.get(row.version);
    if (!m) {
      throw new StoreError("migration_failed", `This data directory has migration ${label(row)} applied, which this version of retrieval-mcp does not know. It was created by a newer release: upgrade retrieval-mcp, or use another --data-dir.`);
    }
    if (m.checksum !== row.checksum) {
      throw new StoreError("migration_failed", `Migration ${label(row)}.sql was edited after it was applied to this data directory (checksum ${row.checksum.slice(0, 12)} recorded, ${m.checksum.slice(0, 12)} on disk). Applied migrations must never change: restore the original file and add the change as a new migration.`);
    }
  }
}

/**
 * The migrations a database still needs, found without writing anything
 * (for a store opened read-only, which cannot apply them). Applied ones
 * are checked as `migrate` checks them.
 */
export function unappliedMigrations(db: Database.Database, options: MigrateOptions = {}): string[] {
  const all = loadMigrations(options.dir);
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  const applied = hasTable ? db.prepare<[], AppliedRow>("SELECT version, name, checksum FROM schema_migrations ORDER BY version").all() : [];
  checkApplied(applied, new Map(all.map((m) => [m.version, m])));
  const done = new Set(applied.map((row) => row.version));
  return all.filter((m) => !done.has(m.version)).map(label);
}

/**
 * Applies pending migrations in order, each in its own IMMEDIATE transaction
 * that re-reads what is applied, so two processes opening a new data
 * directory at once apply every migration exactly once.
 */
export function migrate(db: Database.Database, options: MigrateOptions = {}): number[] {
  registerSqlFunctions(db);
  const all = loadMigrations(options.dir);
  const byVersion = new Map(all.map((m) => [m.version, m]));
  const migrations = all.filter((m) => options.target === undefined || m.version <= options.target);
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const readApplied = db.prepare<[], AppliedRow>("SELECT version, name, checksum FROM schema_migrations ORDER BY version");
  const record = db.prepare("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)");

  const check = (applied: AppliedRow[]): void => checkApplied(applied, byVersion);

  const appliedNow: number[] = [];
  for (const migration of migrations) {
    const apply = db.transaction(() => {
      const applied = readApplied.all();
      check(applied);
      if (applied.some((row) => row.version === migration.version)) return false;
      try {
        db.exec(migration.sql);
      } catch (error) {
        throw new StoreError("migration_failed", `Migration ${label(migration)} failed: ${(error as Error).message}. Nothing of it was applied.`, { cause: error });
      }
      record.run(migration.version, migration.name, migration.checksum, Date.now());
      return true;
    });
    if (apply.immediate()) appliedNow.push(migration.version);
  }
  check(readApplied.all());
  return appliedNow;
}
