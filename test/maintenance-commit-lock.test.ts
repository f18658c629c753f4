import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { connectLance } from "../src/store/lance-connection.js";
import type { Store } from "../src/store/store.js";
import { vectorsLocation } from "../src/store/vectors-location.js";
import { postgresStoreUrl } from "./helpers/backends.js";
import { commitLockSessions } from "./helpers/postgres.js";
import { enforceIfNoneMatch, S3_ENV, startS3rver, type S3Endpoint } from "./helpers/s3.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";
import { signal } from "./helpers/signal.js";

const tmp = useTempDirs();
const saved = { ...process.env };
let s3rver: S3Endpoint;
let enforcing: S3Endpoint;

beforeAll(async () => {
  Object.assign(process.env, S3_ENV);
  s3rver = await startS3rver(["vectors"]);
  enforcing = await enforceIfNoneMatch(s3rver.url);
});
afterAll(async () => {
  await enforcing.stop();
  await s3rver.stop();
  process.env = saved;
});

/**
 * Two stores (two replicas) on one database and one s3:// prefix: `writer`
 * is stopped inside the commit lock, between its Lance write and its
 * commit, until `release` is called; `maintainer` has rows to compact.
 */
async function replicasWithAWriterInsideTheLock(endpoint: string) {
  const dir = tmp();
  const options = { database: await postgresStoreUrl(dir), vectors: `s3://vectors/${randomUUID()}`, s3Endpoint: endpoint };
  const maintainer = await openStore(dir, options);
  for (let i = 0; i < 3; i++) await maintainer.index({ chunk_id: `c${i}`, text: `tide table entry number ${i}` });
  const { fired: released, fire: release } = signal();
  const { fired: inside, fire: held } = signal();
  const writer = await openStore(dir, {
    ...options,
    faults: {
      insideCommitLock: async () => {
        held();
        await released;
      },
    },
  });
  const write = writer.index({ chunk_id: "held", text: "written by the replica that holds the commit lock" });
  await inside;
  return { options, database: options.database, maintainer, writer, write, release };
}

async function closeAll(...stores: Store[]): Promise<void> {
  for (const store of stores) await store.close();
}

// Lance relies on conditional PUTs to detect two commits of one version; an
// object store that ignores them keeps whichever PUT came last, so a
// compaction racing a write would silently drop that write's rows.
describe.skipIf("off" in inject("postgres"))("maintenance commits on object storage", () => {
  test("where the object store ignores conditional PUTs, compaction waits for a replica inside the commit lock, and nothing is lost", async () => {
    const { database, maintainer, writer, write, release } = await replicasWithAWriterInsideTheLock(s3rver.url);
    expect((await maintainer.status()).vectors.conditional_put).toBe(false);
    const optimize = maintainer.optimize();
    await expect.poll(() => commitLockSessions(database, false), { timeout: 60_000 }).toBe(1);
    release();
    expect(await write).toMatchObject({ chunk_id: "held", status: "committed" });
    expect(await optimize).toMatchObject({ ok: true });
    expect((await maintainer.status()).counts).toMatchObject({ committed: 4, pending: 0 });
    expect((await maintainer.search({ query: "replica that holds the commit lock", k: 1, mode: "keyword" })).results[0]?.chunk_id).toBe("held");
    expect(await maintainer.verify()).toMatchObject({ ok: true, problems: [] });
    await closeAll(writer, maintainer);
  });

  test("where the object store ignores conditional PUTs, a replica that opens the table and finds an index missing creates it inside the commit lock", async () => {
    const { options, database, maintainer, writer, write, release } = await replicasWithAWriterInsideTheLock(s3rver.url);
    // The keyword index is gone, as from a table written before it existed; nothing commits meanwhile, the writer waits inside the lock.
    const { connection } = await connectLance(vectorsLocation({ vectors: options.vectors, s3Endpoint: options.s3Endpoint }, "unused"));
    const raw = await connection.openTable("chunks");
    await raw.dropIndex("lexical_idx");
    raw.close();
    connection.close();
    const opener = await openStore(tmp(), options);
    const opened = opener.status();
    // The index build queues behind the writer instead of committing beside it, where one commit would replace the other.
    await expect.poll(() => commitLockSessions(database, false), { timeout: 60_000 }).toBe(1);
    release();
    expect(await write).toMatchObject({ chunk_id: "held", status: "committed" });
    expect((await opened).lance?.keyword_index).toMatchObject({ name: "lexical_idx" });
    expect((await opener.search({ query: "replica that holds the commit lock", k: 1, mode: "keyword" })).results[0]?.chunk_id).toBe("held");
    expect(await opener.verify()).toMatchObject({ ok: true, problems: [] });
    await closeAll(opener, writer, maintainer);
  });

  test("where the object store enforces conditional PUTs, compaction runs while another replica holds the commit lock", async () => {
    const { maintainer, writer, write, release } = await replicasWithAWriterInsideTheLock(enforcing.url);
    expect((await maintainer.status()).vectors.conditional_put).toBe(true);
    // Would never settle if compaction queued behind the held lock.
    expect(await maintainer.optimize()).toMatchObject({ ok: true });
    release();
    expect(await write).toMatchObject({ chunk_id: "held", status: "committed" });
    expect(await maintainer.verify()).toMatchObject({ ok: true, problems: [] });
    await closeAll(writer, maintainer);
  });
});
