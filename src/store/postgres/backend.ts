import { mkdirSync } from "node:fs";
import type { Backend } from "../backend-contract.js";
import { StoreError } from "../errors.js";
import { SETTINGS } from "../settings-keys.js";
import { openVectorStorage } from "../vector-storage.js";
import type { VectorsLocation } from "../vectors-location.js";
import { connectionError, openPool, openSession } from "./connect.js";
import { AdvisoryCommitLock, MaintenanceLease, lockKeys } from "./locks.js";
import { PostgresMetadata } from "./metadata.js";
import { migratePostgres } from "./migrate.js";
import { redactedUrl } from "./url.js";

/**
 * Connections for single statements and write transactions. Writes of one
 * replica take turns on the store's write lock anyway; reads are short.
 */
const MAIN_CONNECTIONS = 8;
/** As many as SQLite's snapshot pool: each running search holds one. */
const SNAPSHOT_CONNECTIONS = 8;
/** jsonb casts (PostgreSQL 11) and stored generated columns (12). */
const MIN_SERVER_VERSION = 120000;

interface ServerFacts {
  database: string;
  schema: string | null;
  version: number;
  encoding: string;
}

const FACTS_SQL = `SELECT current_database() AS database, current_schema() AS schema, current_setting('server_version_num')::int AS version,
  pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = current_database()`;

function checkServer(facts: ServerFacts, url: string): void {
  if (facts.version < MIN_SERVER_VERSION) {
    throw new StoreError("database_unavailable", `The PostgreSQL server of ${redactedUrl(url)} runs version ${facts.version}; retrieval-mcp needs PostgreSQL 12 or newer.`);
  }
  // Text is compared and converted as UTF-8 (filters, ranges): another encoding would mangle it.
  if (facts.encoding !== "UTF8") {
    throw new StoreError(
      "database_unavailable",
      `The database of ${redactedUrl(url)} uses the encoding ${facts.encoding}; retrieval-mcp needs UTF8. Create one with \`CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0\`.`,
    );
  }
  if (facts.schema === null) {
    throw new StoreError("database_unavailable", `No schema of the search_path of ${redactedUrl(url)} exists; create it, or connect without a search_path option.`);
  }
}

/**
 * The scale-out backend: metadata and commit state in PostgreSQL, shared
 * by any number of replicas; Lance tables at `vectors`, a location every
 * replica reaches alike (a shared directory or object storage). Lance
 * commits take a session advisory lock; one replica at a time leads the
 * timed maintenance (docs/ARCHITECTURE.md, "PostgreSQL and replicas").
 */
export async function openPostgresBackend(url: string, location: VectorsLocation, log: (message: string) => void): Promise<Backend> {
  // An absolute path or an s3:// URI (vectorsLocation): replicas may start in other working directories.
  const vectors = location.uri;
  const pool = openPool(url, MAIN_CONNECTIONS, log);
  const snapshots = openPool(url, SNAPSHOT_CONNECTIONS, log);
  const ending = () => Promise.all([pool.end(), snapshots.end()]).catch(() => undefined);
  let meta: PostgresMetadata;
  let keys: ReturnType<typeof lockKeys>;
  try {
    const client = await pool.connect().catch((error: unknown) => {
      throw connectionError(error, url);
    });
    try {
      const [facts] = (await client.query<ServerFacts>(FACTS_SQL)).rows;
      checkServer(facts!, url);
      keys = lockKeys(facts!.database, facts!.schema!);
      await migratePostgres(client, keys.migrate);
    } finally {
      client.release();
    }
    meta = new PostgresMetadata(pool, snapshots, keys.write);
    // Replicas that each wrote their vectors somewhere else would each miss the others' rows: one location per store.
    const bound = await meta.claimSetting(SETTINGS.vectors, vectors);
    if (bound !== vectors) {
      throw new StoreError(
        "invalid_input",
        `The store in ${redactedUrl(url)} keeps its vectors at ${bound}, but this process was given ${vectors}. ` +
          `Every replica must use the same vector location: start it with --vectors ${bound}. Nothing was written.`,
      );
    }
  } catch (error) {
    await ending();
    throw error;
  }
  try {
    if (location.kind === "directory") mkdirSync(vectors, { recursive: true });
    const { storage, connection, cacheUsage } = await openVectorStorage(location, { writable: true });
    const lock = new AdvisoryCommitLock(url, keys.commit, log);
    const lease = new MaintenanceLease(url, keys.maintenance, log);
    return {
      meta,
      lock,
      connection,
      lanceCacheUsage: cacheUsage,
      storage,
      readOnlyBecause: null,
      maintenanceLeader: () => lease.leads(),
      async close({ leaveLance = false } = {}) {
        if (!leaveLance) connection.close();
        await Promise.all([lock.close(), lease.close(), meta.close()]);
      },
    };
  } catch (error) {
    await ending();
    throw error;
  }
}

/** What a caller must know before opening a store: whether the database holds one, and the model it is bound to. */
export interface PostgresStoreProbe {
  exists: boolean;
  binding: unknown;
}

/** Reads a store's presence and binding without creating or migrating anything. */
export async function probePostgresStore(url: string): Promise<PostgresStoreProbe> {
  const client = await openSession(url, () => undefined);
  try {
    const [found] = (await client.query<{ settings: string | null }>("SELECT to_regclass('store_settings')::text AS settings")).rows;
    if (!found?.settings) return { exists: false, binding: null };
    const [row] = (await client.query<{ value: string }>("SELECT value FROM store_settings WHERE key = $1", [SETTINGS.model])).rows;
    return { exists: true, binding: row ? (JSON.parse(row.value) as unknown) : null };
  } finally {
    await client.end().catch(() => undefined);
  }
}
