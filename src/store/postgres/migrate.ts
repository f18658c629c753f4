import { join } from "node:path";
import type pg from "pg";
import { StoreError } from "../errors.js";
import { MIGRATIONS_DIR, checkApplied, label, loadMigrations, type AppliedRow, type MigratedPlace } from "../migrate.js";

/** PostgreSQL's migrations, numbered on their own: V001 here is the SQLite store's state after its V007. */
export const POSTGRES_MIGRATIONS_DIR = join(MIGRATIONS_DIR, "postgres");

const DATABASE: MigratedPlace = { noun: "database", flag: "--database" };

/**
 * Applies pending migrations in order, each in its own transaction, under
 * a session advisory lock held for the whole run: replicas opening a new
 * database at once queue on it, and each finds what the first applied.
 * An applied migration this release does not know, or knows with other
 * contents, is refused as on SQLite (migrate.ts).
 */
export async function migratePostgres(client: pg.ClientBase, lockKey: string, dir: string = POSTGRES_MIGRATIONS_DIR): Promise<number[]> {
  const all = loadMigrations(dir);
  const byVersion = new Map(all.map((m) => [m.version, m]));
  const readApplied = async () =>
    (await client.query<AppliedRow>("SELECT version, name, checksum FROM schema_migrations ORDER BY version")).rows;
  await client.query("SELECT pg_advisory_lock($1)", [lockKey]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at bigint NOT NULL
    )`);
    const appliedNow: number[] = [];
    for (const migration of all) {
      await client.query("BEGIN");
      try {
        const applied = await readApplied();
        checkApplied(applied, byVersion, DATABASE);
        if (applied.some((row) => row.version === migration.version)) {
          await client.query("COMMIT");
          continue;
        }
        await client.query(migration.sql).catch((error: Error) => {
          throw new StoreError("migration_failed", `Migration ${label(migration)} failed: ${error.message}. Nothing of it was applied.`, { cause: error });
        });
        await client.query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)", [
          migration.version,
          migration.name,
          migration.checksum,
          Date.now(),
        ]);
        await client.query("COMMIT");
        appliedNow.push(migration.version);
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      }
    }
    checkApplied(await readApplied(), byVersion, DATABASE);
    return appliedNow;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [lockKey]);
  }
}
