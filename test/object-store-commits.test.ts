import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, test } from "vitest";
import { S3_ENV, startS3rver, type S3Endpoint } from "./helpers/s3.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();
let s3rver: S3Endpoint;
const saved = { ...process.env };

beforeAll(async () => {
  Object.assign(process.env, S3_ENV);
  s3rver = await startS3rver(["vectors"]);
});
afterAll(async () => {
  await s3rver.stop();
  process.env = saved;
});

/**
 * s3rver overwrites on a conditional PUT, so two Lance commits of the same
 * table version both "succeed" and the later manifest replaces the earlier:
 * a compaction beside a write would lose the write's rows, or leave a
 * manifest pointing at files the compaction's clean-up deleted. Every
 * commit, compaction included, must then take the commit lock.
 */
test("on an object store that ignores conditional PUTs, compactions beside writes lose no acknowledged vector", async () => {
  const store = await openStore(tmp(), { vectors: `s3://vectors/${randomUUID()}`, s3Endpoint: s3rver.url, keepVersionsMs: 0 });
  try {
    expect((await store.status()).vectors).toMatchObject({ conditional_put: false });
    let written = 0;
    for (let round = 0; round < 30; round++) {
      const batch = Array.from({ length: 10 }, (_, i) => ({ chunk_id: `r${round}-${i}`, text: `round ${round} chunk ${i} about estuary birds` }));
      // A write and a compaction at once, as a server's maintenance timer makes them.
      await Promise.all([
        store.indexMany(batch.slice(0, 5)),
        store.search({ query: `round ${round}`, k: 5 }),
        store.optimize(),
        store.search({ query: `chunk ${round}`, k: 5, mode: "vector" }),
        store.indexMany(batch.slice(5)),
      ]);
      written += batch.length;
    }
    const verify = await store.verify();
    expect(verify, JSON.stringify(verify.problems)).toMatchObject({ ok: true });
    expect(verify.checked.lance_rows).toBe(written);
    expect((await store.search({ query: "round 11 chunk 9 about estuary birds", k: 1, mode: "vector" })).results[0]?.chunk_id).toBe("r11-9");
  } finally {
    await store.close();
  }
});
