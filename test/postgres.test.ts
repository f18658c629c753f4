import { join } from "node:path";
import { describe, expect, inject, test } from "vitest";
import { StoreError } from "../src/store/errors.js";
import { MaintenanceLease } from "../src/store/postgres/locks.js";
import { postgresServerUrl, postgresStoreUrl, testDatabase } from "./helpers/backends.js";
import { commitLockSessions, queryRows, storeLockKeys } from "./helpers/postgres.js";
import { collect, spawnTs } from "./helpers/processes.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();

// What only the PostgreSQL backend has: its connection errors, its locks across processes, one vector location per store.
describe.skipIf("off" in inject("postgres"))("the PostgreSQL backend", () => {
  async function refused(database: string): Promise<StoreError> {
    const error = await openStore(tmp(), { database }).then(
      async (store) => {
        await store.close();
        throw new Error("the store opened");
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreError);
    return error as StoreError;
  }

  test("an unreachable server, a wrong password and a missing database are refused naming --database, without the password", async () => {
    const server = new URL(postgresServerUrl());
    const closedPort = new URL(server);
    closedPort.port = "1";
    const wrongPassword = new URL(server);
    wrongPassword.password = "not-the-password";
    const missing = new URL(server);
    missing.pathname = "/no_such_database";
    for (const url of [closedPort, wrongPassword, missing]) {
      const error = await refused(url.toString());
      expect(error.code).toBe("database_unavailable");
      expect(error.message).toMatch(/--database \(or RETRIEVAL_MCP_DATABASE_URL\)/);
      expect(error.message).not.toContain(url.password);
    }
    expect((await refused(wrongPassword.toString())).message).toMatch(/password authentication failed/);
    expect((await refused(missing.toString())).message).toMatch(/does not exist/);
  });

  test("text PostgreSQL cannot store (U+0000) is refused naming the field, and nothing is written", async () => {
    const dir = tmp();
    const store = await openStore(dir, { database: await postgresStoreUrl(dir) });
    await expect(store.index({ chunk_id: "nul", text: "a\u0000b" })).rejects.toThrow(/chunk "nul": text contains the character U\+0000/);
    await expect(store.index({ chunk_id: "nul", text: "fine", metadata: { tag: "x\u0000" } })).rejects.toThrow(/metadata.tag contains/);
    expect((await store.status()).counts).toMatchObject({ pending: 0, committed: 0 });
    await store.close();
  });

  test("a second replica given another vector location is refused, naming the store's", async () => {
    const dir = tmp();
    const database = await postgresStoreUrl(dir);
    const first = await openStore(dir, { database });
    await first.index({ chunk_id: "a", text: "first replica's chunk" });
    const elsewhere = join(tmp(), "other-lance");
    await expect(openStore(tmp(), { database, vectors: elsewhere })).rejects.toThrow(new RegExp(`keeps its vectors at ${join(dir, "lance")}.*--vectors ${join(dir, "lance")}`));
    // The same location from another data directory is a replica like any other.
    const second = await openStore(tmp(), { database, vectors: join(dir, "lance") });
    expect((await second.search({ query: "first replica's chunk", k: 1 })).results[0]?.chunk_id).toBe("a");
    await second.close();
    await first.close();
  });

  test("replicas opening a new database at once apply its migrations once", async () => {
    const dir = tmp();
    const database = await postgresStoreUrl(dir);
    const stores = await Promise.all([openStore(dir, { database }), openStore(dir, { database }), openStore(dir, { database })]);
    const applied = await queryRows<{ version: number }>(database, "SELECT version FROM schema_migrations ORDER BY version");
    expect(applied.map((r) => r.version)).toEqual([1]);
    await Promise.all(stores.map((s) => s.close()));
  });

  test("a process SIGKILLed inside the commit lock blocks no other writer, and recovery finishes its write", async () => {
    const dir = tmp();
    const database = await postgresStoreUrl(dir);
    const store = await openStore(dir, { database });
    await store.index({ chunk_id: "before", text: "written before the holder started" });

    const holder = spawnTs("test/fixtures/commit-lock-holder.ts", [dir, database]);
    const finished = collect(holder);
    await new Promise<void>((resolve) => holder.stdout!.on("data", (d: Buffer) => d.toString().includes("held") && resolve()));
    expect(await commitLockSessions(database, true)).toBe(1);

    // This write queues on the holder's lock in the server...
    const write = store.index({ chunk_id: "after", text: "written while the holder was killed" });
    await expect.poll(() => commitLockSessions(database, false), { timeout: 60_000 }).toBe(1);
    // ...and goes through once the holder dies: the server ends its session and with it the lock.
    holder.kill("SIGKILL");
    expect((await finished).signal).toBe("SIGKILL");
    expect(await write).toMatchObject({ chunk_id: "after", status: "committed" });

    // The holder's chunk is in Lance but was never committed (killed between steps 2 and 3): recovery finishes it.
    expect((await store.status(["holder"])).chunk_states?.[0]).toMatchObject({ status: "pending" });
    await store.recover({ reconcile: true });
    expect((await store.status()).counts).toMatchObject({ pending: 0, committed: 3 });
    expect((await store.search({ query: "written by the process killed inside the commit lock", k: 1 })).results[0]?.chunk_id).toBe("holder");
    expect(await store.verify()).toMatchObject({ ok: true, problems: [] });
    await store.close();
  });

  test("one replica at a time leads maintenance; when the leader is SIGKILLed another takes the lead", async () => {
    const dir = tmp();
    const database = await postgresStoreUrl(dir);
    const { maintenance } = await storeLockKeys(database);
    const leader = spawnTs("test/fixtures/maintenance-lease.ts", [database, maintenance]);
    const finished = collect(leader);
    const first = await new Promise<string>((resolve) => leader.stdout!.on("data", (d: Buffer) => resolve(d.toString())));
    expect(JSON.parse(first)).toEqual({ leads: true });

    const log: string[] = [];
    const lease = new MaintenanceLease(database, maintenance, (m) => log.push(m));
    const other = new MaintenanceLease(database, maintenance, (m) => log.push(m));
    expect(await lease.leads()).toBe(false);
    leader.kill("SIGKILL");
    expect((await finished).signal).toBe("SIGKILL");
    await expect.poll(() => lease.leads(), { timeout: 60_000 }).toBe(true);
    // It keeps the lead while its session lives; the others keep skipping.
    expect(await lease.leads()).toBe(true);
    expect(await other.leads()).toBe(false);
    await lease.close();
    await expect.poll(() => other.leads(), { timeout: 60_000 }).toBe(true);
    await other.close();
    expect(log).toEqual([]);
  });

  test("each test file has a database of its own on the run's private cluster", async () => {
    const database = await testDatabase();
    expect(new URL(database).pathname).toMatch(/^\/t_\d+_/);
    expect(new URL(database).hostname).toBe(new URL(postgresServerUrl()).hostname);
  });
});
