import { createHash } from "node:crypto";
import { inject } from "vitest";
import type { StoreLocation } from "../../src/store/store.js";
import { adminQuery, databaseUrl, schemaUrl } from "./postgres.js";

/**
 * The metadata backends the store's tests run over: the embedded SQLite,
 * and PostgreSQL on the run's private cluster (test/setup/postgres.ts).
 * A test written once against `location(dataDir)` runs the same store
 * code over both.
 */
export interface TestBackend {
  name: "sqlite" | "postgres";
  /** Where a store for this data directory lives: the same directory gives the same store, so reopening works. */
  location(dataDir: string): Promise<StoreLocation>;
}

export const SQLITE: TestBackend = { name: "sqlite", location: async (dataDir) => ({ dataDir }) };

/** The superuser URL of the run's PostgreSQL, or an error saying how to install it. */
export function postgresServerUrl(): string {
  const postgres = inject("postgres");
  if ("url" in postgres) return postgres.url;
  if ("error" in postgres) throw new Error(`These tests need PostgreSQL: ${postgres.error}`);
  throw new Error("PostgreSQL tests are off (RETRIEVAL_MCP_TEST_POSTGRES=off) but one ran anyway.");
}

let fileDatabase: Promise<string> | null = null;

/** A database for this test file (each file runs in its own worker), created on first use; the cluster goes with the run. */
export function testDatabase(): Promise<string> {
  fileDatabase ??= (async () => {
    const server = postgresServerUrl();
    const name = `t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    await adminQuery(server, `CREATE DATABASE ${name} ENCODING 'UTF8' TEMPLATE template0`);
    return databaseUrl(server, name);
  })();
  return fileDatabase;
}

/** The URL of a store of its own in this file's database: one schema per data directory. */
export async function postgresStoreUrl(dataDir: string): Promise<string> {
  const database = await testDatabase();
  const schema = `s_${createHash("sha256").update(dataDir).digest("hex").slice(0, 16)}`;
  await adminQuery(database, `CREATE SCHEMA IF NOT EXISTS ${schema}`);
  return schemaUrl(database, schema);
}

export const POSTGRES: TestBackend = {
  name: "postgres",
  location: async (dataDir) => ({ dataDir, database: await postgresStoreUrl(dataDir) }),
};

/** Both backends, unless this run left PostgreSQL out on purpose (RETRIEVAL_MCP_TEST_POSTGRES=off). */
export function storeBackends(): TestBackend[] {
  return "off" in inject("postgres") ? [SQLITE] : [SQLITE, POSTGRES];
}

/** The environment that tells a worker process (test/fixtures) to open the same store: its database, if it has one. */
export function workerEnv(location: StoreLocation): Record<string, string> {
  return location.database === undefined ? {} : { WORKER_DATABASE: location.database };
}
