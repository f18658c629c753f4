import { join } from "node:path";
import * as lancedb from "@lancedb/lancedb";
import Database from "better-sqlite3";
import { describe, expect, test } from "vitest";
import { embedderFromSpec } from "../src/embed/from-spec.js";
import { migrate } from "../src/store/migrate.js";
import { openBackend } from "../src/store/backend.js";
import type { Filter, SearchInput } from "../src/store/schemas.js";
import type { Store, StoreOptions } from "../src/store/store.js";
import { FaultyEmbedder } from "./helpers/embedders.js";
import { openStore } from "./helpers/store.js";
import { storeBackends } from "./helpers/backends.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();
const MODES = ["hybrid", "vector", "keyword"] as const;

async function ids(store: Store, input: SearchInput): Promise<string[]> {
  return (await store.search(input)).results.map((r) => r.chunk_id);
}

const CODE = [
  { chunk_id: "camel", text: "Call getUserName() to fetch the display name of the signed-in account." },
  { chunk_id: "snake", text: "The helper parse_config_file reads the YAML settings at startup." },
  { chunk_id: "dotted", text: "Paths are built with os.path.join so separators match the platform." },
  { chunk_id: "error", text: "Error E1045 means the licence server refused the checkout request." },
  { chunk_id: "prose1", text: "Our onboarding guide explains how new users pick a display theme." },
  { chunk_id: "prose2", text: "Configuration files live in the settings folder of each project." },
  { chunk_id: "cjk", text: "東京都は日本の首都です。人口が多い都市です。" },
  { chunk_id: "accents", text: "Le café crème est servi très chaud à Montréal." },
];

describe("keyword and hybrid find exact terms", () => {
  test.each([
    ["getUserName", "camel"],
    ["user name", "camel"],
    ["parse_config_file", "snake"],
    ["config file parse", "snake"],
    ["os.path.join", "dotted"],
    ["path join", "dotted"],
    ["E1045", "error"],
    ["首都", "cjk"],
    ["東京", "cjk"],
    ["cafe creme montreal", "accents"],
    ["reading the yaml", "snake"],
  ])("%s -> %s", async (query, expected) => {
    const store = await openStore(tmp());
    await store.indexMany(CODE);
    expect((await ids(store, { query, mode: "keyword", k: 3 }))[0]).toBe(expected);
    expect((await ids(store, { query, mode: "hybrid", k: 3 }))[0]).toBe(expected);
    await store.close();
  });

  test("a query of operators and punctuation is just text to the lexical index", async () => {
    const store = await openStore(tmp());
    await store.indexMany(CODE);
    for (const query of ['"unbalanced', "NEAR(a b)", "title:* OR -", "a AND OR NOT", "'; DROP TABLE chunks; --", "***"]) {
      await expect(store.search({ query, mode: "keyword" })).resolves.toBeDefined();
      await expect(store.search({ query, mode: "hybrid" })).resolves.toBeDefined();
    }
    expect((await store.status()).chunks).toBe(CODE.length);
    await store.close();
  });

  test("k larger than the matches returns every match and no more; hybrid pads nothing without evidence into k", async () => {
    const store = await openStore(tmp());
    await store.indexMany(CODE);
    const matches = ["camel", "prose1"];
    expect(await ids(store, { query: "display", mode: "keyword", k: 50 })).toEqual(expect.arrayContaining(matches));
    expect(await ids(store, { query: "display", mode: "keyword", k: 50 })).toHaveLength(2);
    // The chunk farthest by meaning that lacks the query's words has evidence from neither side.
    const farthest = (await ids(store, { query: "display", mode: "vector", k: 50 })).filter((id) => !matches.includes(id)).at(-1);
    const hybrid = await ids(store, { query: "display", mode: "hybrid", k: 50 });
    expect(hybrid).toEqual(expect.arrayContaining(matches));
    expect(hybrid).not.toContain(farthest);
    expect(hybrid).toHaveLength(CODE.length - 1);
    await store.close();
  });
});

test("hybrid rescues a synonym query that keyword search cannot answer (offline neural model)", async () => {
  const store = await openStore(tmp(), { embedder: embedderFromSpec("offline") });
  await store.indexMany([
    { chunk_id: "car", text: "The mechanic repaired the engine of my car yesterday." },
    { chunk_id: "bread", text: "Fresh bread is baked every morning at the corner bakery." },
    { chunk_id: "tax", text: "Quarterly tax filings are due at the end of the month." },
  ]);
  expect(await ids(store, { query: "automobile maintenance", mode: "keyword" })).toEqual([]);
  expect((await ids(store, { query: "automobile maintenance", mode: "vector" }))[0]).toBe("car");
  expect((await ids(store, { query: "automobile maintenance", mode: "hybrid" }))[0]).toBe("car");
  await store.close();
});

describe.each(storeBackends())("filters apply inside every mode ($name)", (backend) => {
  const open = (options: Partial<StoreOptions> = {}) => openStore(tmp(), options, backend);

  const DOCS = [
    { chunk_id: "best", text: "otters hold hands while sleeping", metadata: { lang: "en", year: 2019, published: "2019-05-01", tags: ["mammal", "river"], draft: false } },
    { chunk_id: "fr", text: "les loutres otters dorment en se tenant la main", metadata: { lang: "fr", year: 2021, published: "2021-02-10", tags: ["mammal"], draft: true } },
    { chunk_id: "de", text: "Otter otters schlafen Hand in Hand", metadata: { lang: "de", year: 2023, published: "2023-11-30", tags: ["river"] } },
    { chunk_id: "none", text: "otters sleeping notes without metadata" },
    { chunk_id: "quote", text: "otters quoted value", metadata: { lang: "x' OR '1'='1" } },
  ];
  const cases: [string, Record<string, unknown>, string[]][] = [
    ["equality excludes the best match", { lang: "fr" }, ["fr"]],
    ["list of values", { lang: ["fr", "de"] }, ["de", "fr"]],
    ["numeric range", { year: { gte: 2020 } }, ["de", "fr"]],
    ["numeric range, both ends", { year: { gt: 2019, lt: 2023 } }, ["fr"]],
    ["date range on ISO strings", { published: { lte: "2021-12-31" } }, ["best", "fr"]],
    ["exists", { tags: { exists: true } }, ["best", "de", "fr"]],
    ["not exists", { tags: { exists: false } }, ["none", "quote"]],
    ["tag membership by value", { tags: "river" }, ["best", "de"]],
    ["contains_all", { tags: { contains_all: ["mammal", "river"] } }, ["best"]],
    ["contains_any", { tags: { contains_any: ["river", "fish"] } }, ["best", "de"]],
    ["ne also keeps chunks without the key", { lang: { ne: "en" } }, ["de", "fr", "none", "quote"]],
    ["nin", { lang: { nin: ["en", "fr"] } }, ["de", "none", "quote"]],
    ["boolean", { draft: true }, ["fr"]],
    ["two keys: all must match", { lang: "en", year: 2019 }, ["best"]],
    ["injection attempt matches only the literal", { lang: "x' OR '1'='1" }, ["quote"]],
    ["injection attempt in a key", { "lang') OR 1=1 --": "en" }, []],
    ["types never coerce", { year: "2019" }, []],
  ];
  test.each(cases)("%s", async (_name, filter, expected) => {
    const store = await open();
    await store.indexMany(DOCS);
    for (const mode of MODES) {
      const got = await ids(store, { query: "otters sleeping", mode, k: 10, filter: filter as SearchInput["filter"] });
      expect(got.sort(), mode).toEqual(expected);
    }
    await store.close();
  });

  // Among 200 chunks without metadata each filter above that keeps none of them matches
  // under 10% of the table, so the store hands it to Lance as a prefilter instead of
  // filtering Lance's results afterwards: both paths must give the same answer.
  const FILLERS = Array.from({ length: 200 }, (_, i) => ({ chunk_id: `filler${i}`, text: `otters sleeping filler note ${i}` }));
  test.each(cases.filter(([, , expected]) => !expected.includes("none")))("%s, as a prefilter among 200 chunks it excludes", async (_name, filter, expected) => {
    const store = await open();
    await store.indexMany([...DOCS, ...FILLERS]);
    for (const mode of MODES) {
      const got = await ids(store, { query: "otters sleeping", mode, k: 10, filter: filter as SearchInput["filter"] });
      expect(got.sort(), mode).toEqual(expected);
    }
    await store.close();
  });

  test("a range filter's share is estimated from 512 committed chunks spread over the whole table, deleted ones left out, even when metadata cycles", async () => {
    // Search asks Lance for rows in proportion to that share (search.ts, planFilter). The 12,800 chunks left
    // cycle through 100 buckets: blocks evenly spaced over them would all start at the same bucket.
    const dir = tmp();
    const store = await openStore(dir, {}, backend);
    const chunk = (i: number) => ({ chunk_id: `s${i}`, doc_id: i < 1500 ? "early" : "late", text: `sample note ${i}`, metadata: { bucket: i % 100, half: i < 1500 ? "early" : "late" } });
    await store.indexMany(Array.from({ length: 14_300 }, (_, i) => chunk(i)));
    await store.delete({ doc_id: "early" });
    await store.close();
    const opened = await openBackend(await backend.location(dir));
    try {
      const sample = (filter: Filter) => opened.meta.snapshot((view) => view.sampleFilter(filter));
      const thirty = await sample({ bucket: { lt: 30 } });
      expect(thirty.sampled).toBe(512);
      expect(Math.abs(thirty.matching / thirty.sampled - 0.3)).toBeLessThan(0.05);
      expect(await sample({ bucket: { gte: 0 } })).toEqual({ sampled: 512, matching: 512 });
      expect(await sample({ bucket: { gte: 100 } })).toEqual({ sampled: 512, matching: 0 });
      // The 1,500 deleted chunks are not sampled: only committed ones.
      expect(await sample({ half: "early" })).toEqual({ sampled: 512, matching: 0 });
    } finally {
      await opened.close();
    }
  });

  test("a value too long for Lance's label index is still matched exactly, by SQLite", async () => {
    const long = "a long provenance string ".repeat(12);
    const store = await open();
    await store.indexMany([...FILLERS, { chunk_id: "long", text: "otters with a long note", metadata: { note: long } }, { chunk_id: "near", text: "otters with a near note", metadata: { note: `${long}!` } }]);
    for (const mode of MODES) {
      expect(await ids(store, { query: "otters note", mode, k: 10, filter: { note: long } }), mode).toEqual(["long"]);
      expect((await ids(store, { query: "otters note", mode, k: 10, filter: { note: [long, `${long}!`] } })).sort(), mode).toEqual(["long", "near"]);
    }
    await store.close();
  });

  test("a selective filter still returns k results when k exist", async () => {
    const store = await open();
    await store.indexMany(
      Array.from({ length: 300 }, (_, i) => ({ chunk_id: `n${i}`, text: `field note ${i} about otters`, metadata: { rare: i % 60 === 0 } })),
    );
    for (const mode of MODES) {
      expect(await ids(store, { query: "field note about otters", mode, k: 5, filter: { rare: true } }), mode).toHaveLength(5);
    }
    await store.close();
  });
});

describe("I1 holds in every mode", () => {
  test("deleted and never-committed chunks never surface; a pending rewrite is served in its committed version", async () => {
    const embedder = new FaultyEmbedder();
    const store = await openStore(tmp(), { embedder });
    await store.indexMany([
      { chunk_id: "live", text: "zeppelin hangar at the old airfield" },
      { chunk_id: "gone", text: "zeppelin museum closed for winter" },
      { chunk_id: "upd", text: "zeppelin flight schedule, old version" },
    ]);
    await store.delete({ chunk_id: "gone" });
    embedder.mode = "hang-documents";
    await store.index({ chunk_id: "new", text: "zeppelin brand new pending chunk" }, { wait: false });
    await store.index({ chunk_id: "upd", text: "zeppelin flight schedule, new version" }, { wait: false });
    for (const mode of MODES) {
      expect((await ids(store, { query: "zeppelin", mode, k: 10 })).sort(), mode).toEqual(["live", "upd"]);
      const upd = (await store.search({ query: "zeppelin flight schedule", mode, k: 10 })).results.find((r) => r.chunk_id === "upd");
      expect(upd?.text, mode).toBe("zeppelin flight schedule, old version");
    }
    embedder.mode = "ok";
    await store.close();
    const reopened = await openStore(store.paths.root);
    await reopened.recover();
    for (const mode of MODES) {
      expect((await ids(reopened, { query: "zeppelin", mode, k: 10 })).sort(), mode).toEqual(["live", "new", "upd"]);
    }
    expect((await reopened.search({ query: "zeppelin flight schedule", mode: "keyword", k: 1 })).results[0]?.text).toBe("zeppelin flight schedule, new version");
    await reopened.close();
  });
});

describe("the keyword index", () => {
  test("serves exactly the committed version of each chunk, whatever fails", async () => {
    const dir = tmp();
    let failAt: "afterPending" | "duringCommit" | null = null;
    const fail = (point: typeof failAt) => () => {
      if (failAt === point) throw new Error(`injected at ${point}`);
    };
    const store = await openStore(dir, { faults: { afterPending: fail("afterPending"), duringCommit: fail("duringCommit") } });
    await store.indexMany([
      { chunk_id: "a", text: "alpha original" },
      { chunk_id: "b", text: "bravo original" },
    ]);
    failAt = "afterPending";
    await expect(store.index({ chunk_id: "a", text: "alpha rewritten" })).rejects.toThrow();
    failAt = "duringCommit";
    await expect(store.index({ chunk_id: "c", text: "charlie new" })).rejects.toThrow();
    failAt = null;
    await store.delete({ chunk_id: "b" });
    // Lance holds c's row and may hold a's rewrite: neither was committed, so neither is found.
    expect(await ids(store, { query: "original", mode: "keyword" })).toEqual(["a"]);
    expect(await ids(store, { query: "rewritten", mode: "keyword" })).toEqual([]);
    expect(await ids(store, { query: "charlie", mode: "keyword" })).toEqual([]);
    await store.recover();
    expect(await ids(store, { query: "rewritten charlie", mode: "keyword" })).toEqual(expect.arrayContaining(["a", "c"]));
    expect(await ids(store, { query: "original", mode: "keyword" })).toEqual([]);
    await store.close();
  });

  test("a dropped full-text index is rebuilt when the store opens the table, and rows written meanwhile are found", async () => {
    const dir = tmp();
    const store = await openStore(dir);
    await store.indexMany([
      { chunk_id: "a", text: "alpha" },
      { chunk_id: "b", text: "bravo" },
    ]);
    await store.close();
    const db = await lancedb.connect(join(dir, "lance"));
    const table = await db.openTable("chunks");
    await table.dropIndex("lexical_idx");
    table.close();
    db.close();
    const reopened = await openStore(dir);
    await reopened.index({ chunk_id: "c", text: "charlie" });
    expect(await ids(reopened, { query: "bravo", mode: "keyword" })).toEqual(["b"]);
    expect(await ids(reopened, { query: "charlie", mode: "keyword" })).toEqual(["c"]);
    expect((await reopened.status()).lance?.keyword_index).toMatchObject({ name: "lexical_idx" });
    await reopened.close();
  });

  test("a store whose chunks have no vectors yet (an old data directory) is searchable by keyword once repair has written them", async () => {
    const dir = tmp();
    const db = new Database(join(dir, "metadata.db"));
    migrate(db, { target: 4 });
    const t = Date.now();
    db.prepare("INSERT INTO chunks (chunk_id, collection, text, metadata, content_hash, created_at, updated_at) VALUES (?, 'default', ?, '{}', 'h', ?, ?)").run("old", "legacy chunk about narwhals", t, t);
    db.prepare("INSERT INTO embedding_records (chunk_id, model, dimension, status, vector_committed, generation, created_at, updated_at, state_changed_at) VALUES ('old', 'hash:64', 64, 'committed', 1, 1, ?, ?, ?)").run(t, t, t);
    db.prepare("UPDATE generation_seq SET next = 2").run();
    db.close();
    const store = await openStore(dir);
    expect((await store.verify()).problems.map((p) => p.kind)).toEqual(["committed_without_vector"]);
    await store.verify({ repair: true });
    expect(await ids(store, { query: "narwhals", mode: "keyword" })).toEqual(["old"]);
    await store.close();
  });
});
