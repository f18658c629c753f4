import pg from "pg";
import { StoreError, errorMessage } from "../errors.js";
import { redactedUrl } from "./url.js";

/** Type OID of PostgreSQL's bigint. */
const INT8_OID = 20;

/**
 * Generations, timestamps (ms), sequence numbers and counts are bigint
 * columns. node-postgres returns them as strings, since a bigint may exceed
 * 2^53; ours never do (a generation per write, a millisecond clock), so
 * they come back as numbers, and one that does not fit fails loudly.
 */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`PostgreSQL returned ${text}, beyond the integers JavaScript holds exactly`);
  return n;
}

/** Per connection, not pg's global registry: other users of pg in the process keep their own parsing. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID && format !== "binary" ? parseInt8 : pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
};

/**
 * Keepalive probes start after 10 s idle: a lock holder whose host died
 * (no FIN ever arrives) is noticed by this side within a minute instead of
 * the kernel's default two hours. The server side needs its own
 * tcp_keepalives_* settings to release the dead holder's locks (README).
 */
const KEEPALIVE_DELAY_MS = 10_000;

function config(url: string): pg.ClientConfig {
  return {
    connectionString: url,
    types: TYPES,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    application_name: "retrieval-mcp",
  };
}

/**
 * A pool of connections to the store's database. An idle connection the
 * server drops (a restart, a network cut) is reported to `log` and
 * replaced on next use; without the handler, node-postgres would throw the
 * error at the process.
 */
export function openPool(url: string, max: number, log: (message: string) => void): pg.Pool {
  const pool = new pg.Pool({ ...config(url), max, idleTimeoutMillis: 30_000, allowExitOnIdle: true });
  pool.on("error", (error) => log(`a PostgreSQL connection of the pool failed: ${errorMessage(error)}`));
  return pool;
}

/** A connection of its own, for a session-level lock that must live exactly as long as the session. */
export async function openSession(url: string, onLost: (error: Error) => void): Promise<pg.Client> {
  const client = new pg.Client(config(url));
  client.on("error", onLost);
  try {
    await client.connect();
    // A DBA's default timeouts must not cut short a wait for a lock that is held for a whole Lance commit.
    await client.query("SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0");
  } catch (error) {
    await client.end().catch(() => undefined);
    throw connectionError(error, url);
  }
  return client;
}

/** Errors of reaching the server, said with the (redacted) URL and what to check; others unchanged. */
export function connectionError(error: unknown, url: string): unknown {
  const code = (error as { code?: string }).code ?? "";
  const reaching = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH)$/.test(code);
  // 28xxx: authentication; 3D000: no such database; 57P03: the server is starting up.
  const refused = /^(28|3D000|57P03)/.test(code);
  if (!reaching && !refused) return error;
  return new StoreError(
    "database_unavailable",
    `Cannot use the PostgreSQL database ${redactedUrl(url)}: ${errorMessage(error)}. ` +
      "Check --database (or RETRIEVAL_MCP_DATABASE_URL): the server must be running and reachable, the database must exist and the user must be allowed to log in. Nothing was written.",
    { cause: error },
  );
}
