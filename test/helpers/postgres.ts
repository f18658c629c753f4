import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { processAlive } from "../../src/process-alive.js";
import { lockKeys } from "../../src/store/postgres/locks.js";

/**
 * A private PostgreSQL cluster for one test run: initdb into a temp
 * folder, a server on a free loopback port (its socket in that folder),
 * stopped and removed afterwards. Nothing outside the folder is touched:
 * no system cluster, no service.
 *
 * PostgreSQL refuses to run as root, so as root the cluster belongs to the
 * `postgres` user the Debian package creates and every command goes
 * through `runuser -u postgres`; as anyone else it runs as that user.
 */
export interface PostgresCluster {
  /** A superuser URL to the `postgres` database, e.g. postgres://postgres:...@127.0.0.1:PORT/postgres */
  url: string;
  stop(): Promise<void>;
}

/** How a run without PostgreSQL is told what to do; tests fail with this rather than skip. */
export const INSTALL_HINT =
  "Install PostgreSQL (Debian/Ubuntu: `apt-get install -y postgresql`; .ci/run does this), or point RETRIEVAL_MCP_TEST_DATABASE_URL " +
  "at a PostgreSQL superuser URL, or set RETRIEVAL_MCP_TEST_POSTGRES=off to leave the PostgreSQL tests out of this run.";

/** The superuser's password: host connections need one (auth failures are tested), the socket trusts. */
const PASSWORD = "Pg-Test-Secret-7f3a";

function binDir(): string {
  const candidates: string[] = [];
  const found = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" });
  if (found.status === 0) candidates.push(found.stdout.trim());
  candidates.push("/usr/lib/postgresql/15/bin");
  const dir = candidates.find((d) => existsSync(join(d, "initdb")) && existsSync(join(d, "pg_ctl")));
  if (!dir) throw new Error(`PostgreSQL's initdb and pg_ctl were not found (looked in ${candidates.join(", ")}). ${INSTALL_HINT}`);
  return dir;
}

/** As root: the `postgres` account's ids, which the cluster's folder is given to. */
function postgresAccount(): { uid: number; gid: number } {
  const id = (flag: string) => spawnSync("id", [flag, "postgres"], { encoding: "utf8" });
  const uid = id("-u");
  const gid = id("-g");
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error(`Running as root, the test cluster must run as the \`postgres\` user, which does not exist here. ${INSTALL_HINT}`);
  }
  return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const PREFIX = "retrieval-mcp-pg-";

/** The pg_ctl command line, through runuser as root. */
function pgCommand(bin: string, tool: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", join(bin, tool), ...args]] : [join(bin, tool), args];
}

/**
 * Clusters of earlier runs whose test process died before its teardown
 * (killed, or interrupted twice): each records its owner's pid. Stopped
 * and removed, so they pile up neither as processes nor as temp folders.
 */
function stopAbandoned(bin: string): void {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(PREFIX))) {
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, "owner"), "utf8"));
    } catch {
      continue;
    }
    if (!Number.isInteger(owner) || processAlive(owner)) continue;
    spawnSync(...pgCommand(bin, "pg_ctl", ["-D", join(dir, "data"), "-m", "immediate", "stop"]));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = binDir();
  stopAbandoned(bin);
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, "owner"), String(process.pid));
  const data = join(dir, "data");
  const run = (tool: string, args: string[]) => {
    const [command, argv] = pgCommand(bin, tool, args);
    try {
      return execFileSync(command, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      const { stderr, message } = error as { stderr?: string; message: string };
      throw new Error(`${tool} failed for the test cluster in ${dir}: ${stderr?.trim() || message}. ${INSTALL_HINT}`, { cause: error });
    }
  };
  try {
    if (root) {
      const { uid, gid } = postgresAccount();
      chownSync(dir, uid, gid);
    }
    // Bytewise collation and UTF-8, as a production database for the store should be (README).
    run("initdb", ["-D", data, "-U", "postgres", "-E", "UTF8", "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"]);
    const port = await freePort();
    // fsync off: the tests kill clients, never the server, so the server's own durability is not under test and costs seconds.
    const options = [`-p ${port}`, "-c listen_addresses=127.0.0.1", `-k ${dir}`, "-c fsync=off", "-c full_page_writes=off", "-c max_connections=300"].join(" ");
    run("pg_ctl", ["-D", data, "-l", join(dir, "log"), "-w", "-t", "60", "-o", options, "start"]);
    const local = new pg.Client({ host: dir, port, user: "postgres", database: "postgres" });
    await local.connect();
    try {
      await local.query(`ALTER USER postgres PASSWORD '${PASSWORD}'`);
    } finally {
      await local.end();
    }
    return {
      url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
      async stop() {
        try {
          run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    spawnSync(...pgCommand(bin, "pg_ctl", ["-D", data, "-m", "immediate", "stop"]));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** `url` with its database replaced. */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** `url` with a search_path, so a store lives in that schema of the database (its own tables and its own advisory locks). */
export function schemaUrl(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("options", `-c search_path=${schema}`);
  return parsed.toString();
}

/** Runs statements as the superuser on `url`. */
export async function adminQuery(url: string, ...statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const sql of statements) await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The rows of one parameterised query on `url`. */
export async function queryRows<T extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** The store's advisory lock keys, derived as the backend derives them: from its database and schema. */
export async function storeLockKeys(url: string): Promise<ReturnType<typeof lockKeys>> {
  const [facts] = await queryRows<{ database: string; schema: string }>(url, "SELECT current_database() AS database, current_schema() AS schema");
  return lockKeys(facts!.database, facts!.schema);
}

/** Sessions holding (`granted`) or waiting for the store's commit lock; pg_locks splits an advisory bigint key into its high and low 32 bits. */
export async function commitLockSessions(url: string, granted: boolean): Promise<number> {
  const key = BigInt((await storeLockKeys(url)).commit);
  const [row] = await queryRows<{ n: number }>(
    url,
    "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 1 AND granted = $3",
    [Number(BigInt.asUintN(64, key) >> 32n), Number(BigInt.asUintN(32, key)), granted],
  );
  return row!.n;
}
