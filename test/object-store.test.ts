import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { StoreError } from "../src/store/errors.js";
import { connectLance } from "../src/store/lance-connection.js";
import { toArrowTable, vectorSchema } from "../src/store/vector-table.js";
import { vectorsLocation, type S3Vectors } from "../src/store/vectors-location.js";
import type { Store, StoreOptions } from "../src/store/store.js";
import { closedEndpoint, enforceIfNoneMatch, S3_ENV, startS3rver, type S3Endpoint } from "./helpers/s3.js";
import { DIM, openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();
const BUCKET = "vectors";
let s3rver: S3Endpoint;
const saved = { ...process.env };
const open: Store[] = [];

beforeAll(async () => {
  // Stores read credentials and the region from the standard variables, as in production.
  Object.assign(process.env, S3_ENV);
  s3rver = await startS3rver([BUCKET]);
});
afterAll(async () => {
  await s3rver.stop();
  process.env = saved;
});
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
});

/** A store in a fresh data directory whose vectors go under a fresh prefix of the emulator's bucket. */
async function s3Store(options: Partial<StoreOptions> & { endpoint?: string; prefix?: string; dataDir?: string } = {}): Promise<{ store: Store; dir: string; vectors: string }> {
  const { endpoint = s3rver.url, prefix = `stores/${randomUUID()}`, dataDir = tmp(), ...rest } = options;
  const vectors = `s3://${BUCKET}/${prefix}`;
  const store = await openStore(dataDir, { vectors, s3Endpoint: endpoint, ...rest });
  open.push(store);
  return { store, dir: dataDir, vectors };
}

function location(vectors: string): S3Vectors {
  return vectorsLocation({ vectors, s3Endpoint: s3rver.url }, "unused") as S3Vectors;
}

function s3Client(): S3Client {
  return new S3Client({ endpoint: s3rver.url, forcePathStyle: true, region: S3_ENV.AWS_REGION, requestChecksumCalculation: "WHEN_REQUIRED", credentials: { accessKeyId: S3_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: S3_ENV.AWS_SECRET_ACCESS_KEY } });
}

const ids = (result: Awaited<ReturnType<Store["search"]>>) => result.results.map((r) => r.chunk_id);

describe("vectors on s3://", () => {
  test("index, search in every mode with filters, rewrite, delete, GC, optimize with the keyword index and verify all work, and nothing lands in the data directory's lance/", async () => {
    const { store, dir, vectors } = await s3Store();
    const topics = ["otters", "herons", "kestrels"];
    await store.indexMany(
      Array.from({ length: 30 }, (_, i) => ({
        chunk_id: `c${i}`,
        text: `field note ${i} about ${topics[i % 3]} near the river bend`,
        collection: i < 15 ? "north" : "south",
        metadata: { topic: topics[i % 3]!, n: i },
      })),
    );
    await store.index({ chunk_id: "unique", text: "a quokka smiled at the photographer", metadata: { topic: "quokkas" } });

    expect(ids(await store.search({ query: "a quokka smiled at the photographer", k: 1, mode: "vector" }))).toEqual(["unique"]);
    expect(ids(await store.search({ query: "quokka", k: 1, mode: "keyword" }))).toEqual(["unique"]);
    expect(ids(await store.search({ query: "quokka photographer", k: 1, mode: "hybrid" }))).toEqual(["unique"]);
    const herons = await store.search({ query: "field note about herons", k: 50, mode: "hybrid", filter: { topic: "herons" }, collection: "south" });
    expect(herons.results.length).toBeGreaterThan(0);
    expect(herons.results.every((r) => r.metadata.topic === "herons" && r.collection === "south")).toBe(true);

    await store.index({ chunk_id: "unique", text: "a wombat dug under the fence", metadata: { topic: "wombats" } });
    expect(ids(await store.search({ query: "wombat", k: 1, mode: "keyword" }))).toEqual(["unique"]);
    expect(ids(await store.search({ query: "quokka", k: 5, mode: "keyword" }))).toEqual([]);

    expect(await store.delete({ chunk_ids: ["c0", "c1"] })).toMatchObject({ deleted: 2 });
    expect(ids(await store.search({ query: "field note 0 about otters near the river bend", k: 3, mode: "vector" }))).not.toContain("c0");
    expect(await store.gc()).toMatchObject({ ok: true });
    expect(await store.optimize()).toMatchObject({ ok: true });

    const status = await store.status();
    expect(status.vectors).toMatchObject({ uri: vectors, conditional_put: false });
    expect(status.counts).toMatchObject({ committed: 29, tombstone: 0 });
    expect(status.superseded_awaiting_gc).toBe(0);
    expect(status.lance).toMatchObject({ rows: 29, keyword_index: { unindexed_rows: 0 } });
    expect(await store.verify()).toMatchObject({ ok: true, checked: { lance_rows: 29 } });
    expect(existsSync(join(dir, "lance"))).toBe(false);

    // Another open of the same store (a restart) finds everything where it was.
    await store.close();
    const reopened = await openStore(dir, { vectors, s3Endpoint: s3rver.url });
    open.push(reopened);
    expect(ids(await reopened.search({ query: "wombat fence", k: 1 }))).toEqual(["unique"]);
    expect(await reopened.verify()).toMatchObject({ ok: true });
  });

  test("verify --repair removes a row no chunk owns from an s3:// table and re-writes a lost one", async () => {
    const { store, dir, vectors } = await s3Store();
    await store.indexMany([
      { chunk_id: "a", text: "alpha stays" },
      { chunk_id: "b", text: "bravo stays" },
    ]);
    const { connection: db } = await connectLance(location(vectors));
    const table = await db.openTable("chunks");
    const vector = new Float32Array(DIM).fill(0.1);
    await table.add(toArrowTable(vectorSchema(DIM), DIM, [{ chunkId: "ghost", generation: 1_000_000, collection: "default", docId: null, lexical: "ghost", terms: [], vector }]));
    await table.delete("chunk_id = 'b'");
    table.close();
    db.close();

    // Restarted, as after a crash: a running store moves on only to versions its own processes recorded.
    await store.close();
    const reopened = await openStore(dir, { vectors, s3Endpoint: s3rver.url });
    open.push(reopened);
    const found = await reopened.verify();
    expect(found.ok).toBe(false);
    expect(found.problems.map((p) => p.kind).sort()).toEqual(expect.arrayContaining([expect.stringMatching(/orphan/), expect.stringMatching(/without_vector/)]));
    expect(await reopened.verify({ repair: true })).toMatchObject({ ok: true });
    expect(await reopened.verify()).toMatchObject({ ok: true, checked: { lance_rows: 2 } });
    expect(ids(await reopened.search({ query: "bravo stays", k: 1, mode: "vector" }))).toEqual(["b"]);
  });

  test("an unreadable manifest on s3:// is reported with what to do there, and verify --repair sets nothing aside", async () => {
    const { store, dir, vectors } = await s3Store();
    await store.index({ chunk_id: "a", text: "alpha" });
    const version = (await store.status()).lance!.version;
    await store.close();
    const client = s3Client();
    // Lance names a version's manifest u64::MAX - version.
    const newest = `${location(vectors).prefix}/chunks.lance/_versions/${2n ** 64n - 1n - BigInt(version)}.manifest`;
    await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: newest }));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: newest, Body: "not a manifest" }));

    const reopened = await openStore(dir, { vectors, s3Endpoint: s3rver.url });
    open.push(reopened);
    const error = await reopened.verify({ repair: true }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: "lance_corrupt", message: expect.stringMatching(/On object storage.*move it out of _versions\/.*verify --repair/s) });
    expect((error as Error).message).toContain(`${vectors}/chunks.lance`);
    // Still in place, and still the damaged one: nothing was moved or rewritten.
    expect((await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: newest }))).ContentLength).toBe("not a manifest".length);
    client.destroy();
  });

  test("the start-up probe reports conditional_put true where the store refuses a second If-None-Match PUT, and the store works there", async () => {
    const strict = await enforceIfNoneMatch(s3rver.url);
    try {
      const { store } = await s3Store({ endpoint: strict.url });
      expect((await store.status()).vectors).toMatchObject({ conditional_put: true, detail: expect.stringContaining("412") });
      await store.indexMany(Array.from({ length: 5 }, (_, i) => ({ chunk_id: `s${i}`, text: `strict store chunk ${i}` })));
      expect(ids(await store.search({ query: "strict store chunk 3", k: 1, mode: "vector" }))).toEqual(["s3"]);
      expect(await store.optimize()).toMatchObject({ ok: true });
      expect(await store.verify()).toMatchObject({ ok: true });
    } finally {
      await Promise.all(open.splice(0).map((s) => s.close()));
      await strict.stop();
    }
  });

  test("the probe's outcome is logged once when the store opens", async () => {
    const lines: string[] = [];
    await s3Store({ log: (message) => lines.push(message) });
    const probe = lines.filter((l) => l.includes("If-None-Match"));
    expect(probe).toHaveLength(1);
    expect(probe[0]).toMatch(/ignored If-None-Match: \*.*other program that writes under this prefix/);
  });
});

describe("vectors on s3:// that cannot be used", () => {
  test("an unreachable endpoint is refused at open with what to change", async () => {
    const nowhere = await closedEndpoint();
    await expect(s3Store({ endpoint: nowhere })).rejects.toMatchObject({
      code: "vectors_unavailable",
      message: expect.stringMatching(/Cannot reach the object store .* at http:\/\/127\.0\.0\.1:\d+ .*--s3-endpoint/),
    });
  });

  test("a missing bucket is refused at open with what to change", async () => {
    const dir = tmp();
    await expect(openStore(dir, { vectors: "s3://no-such-bucket/x", s3Endpoint: s3rver.url })).rejects.toMatchObject({
      code: "vectors_unavailable",
      message: expect.stringMatching(/bucket no-such-bucket does not exist .* Create it, or point --vectors/),
    });
  });

  test("credentials the store refuses are named", async () => {
    process.env.AWS_SECRET_ACCESS_KEY = "wrong-secret";
    try {
      await expect(s3Store()).rejects.toMatchObject({
        code: "vectors_unavailable",
        message: expect.stringMatching(/refused the credentials .*SignatureDoesNotMatch.*AWS_SECRET_ACCESS_KEY/),
      });
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = S3_ENV.AWS_SECRET_ACCESS_KEY;
    }
  });
});

test("--vectors <dir> keeps the tables in that directory, not in the data directory", async () => {
  const dir = tmp();
  const elsewhere = join(tmp(), "vectors");
  const store = await openStore(dir, { vectors: elsewhere });
  open.push(store);
  await store.index({ chunk_id: "d", text: "a chunk whose vector lives elsewhere" });
  expect(existsSync(join(elsewhere, "chunks.lance"))).toBe(true);
  expect(existsSync(join(dir, "lance"))).toBe(false);
  expect((await store.status()).vectors).toMatchObject({ uri: elsewhere, conditional_put: null });
  expect(await store.verify()).toMatchObject({ ok: true });
});
