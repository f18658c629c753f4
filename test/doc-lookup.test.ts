import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DOC_ID_SQL, MetadataDb } from "../src/store/metadata.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();

describe("lookups by doc_id", () => {
  it.each(Object.keys(DOC_ID_SQL) as (keyof typeof DOC_ID_SQL)[])("%s finds the document through the (collection, doc_id) index, never by scanning chunks", (name) => {
    const meta = new MetadataDb(join(tempDir(), "metadata.db"));
    try {
      const plan = meta.db
        .prepare(`EXPLAIN QUERY PLAN ${DOC_ID_SQL[name]}`)
        .all(name === "idsBetween" ? { collection: "c", low: "/a/", high: "/a0" } : name.endsWith("In") ? { docId: "d", collection: "c" } : { docId: "d" })
        .map((row) => (row as { detail: string }).detail);
      expect(plan.filter((line) => /^SCAN (c|chunks)\b/.test(line)), plan.join("\n")).toEqual([]);
      expect(plan.some((line) => line.includes("idx_chunks_doc (collection=? AND doc_id")), plan.join("\n")).toBe(true);
    } finally {
      meta.close();
    }
  });

  it("with and without a collection, gets and deletes exactly the document's chunks", async () => {
    const store = await openStore(tempDir());
    try {
      await store.indexMany([
        { text: "alpha in a", chunk_id: "a1", doc_id: "doc", collection: "a" },
        { text: "alpha in b", chunk_id: "b1", doc_id: "doc", collection: "b" },
        { text: "beta in b", chunk_id: "b2", doc_id: "other", collection: "b" },
        { text: "alpha in c", chunk_id: "c1", doc_id: "doc", collection: "c" },
      ]);
      expect((await store.documentChunks("doc")).map((c) => c.chunk_id)).toEqual(["a1", "b1", "c1"]);
      expect((await store.documentChunks("doc", "b")).map((c) => c.chunk_id)).toEqual(["b1"]);
      expect(await store.documentChunks("doc", "missing")).toEqual([]);
      expect((await store.delete({ doc_id: "doc", collection: "c" })).chunk_ids).toEqual(["c1"]);
      expect((await store.delete({ doc_id: "doc" })).chunk_ids.sort()).toEqual(["a1", "b1"]);
      expect((await store.get(["a1", "b1", "b2", "c1"])).map((c) => c.chunk_id)).toEqual(["b2"]);
    } finally {
      await store.close();
    }
  });

  it("lists the documents under a path prefix in one collection, and nothing that merely shares the prefix's text", async () => {
    const store = await openStore(tempDir());
    try {
      await store.indexMany(
        ["/docs/a.md", "/docs/sub/b.md", "/docs/sub/b.md", "/docs2/c.md", "/doc", "/docs/\u{1F600}.md"].map((doc, i) => ({ text: `text ${i}`, chunk_id: `k${i}`, doc_id: doc })),
      );
      await store.index({ text: "elsewhere", chunk_id: "x", doc_id: "/docs/other.md", collection: "elsewhere" });
      expect(await store.documentIds("default", "/docs/")).toEqual(["/docs/a.md", "/docs/sub/b.md", "/docs/\u{1F600}.md"]);
      expect(await store.documentIds("elsewhere", "/docs/")).toEqual(["/docs/other.md"]);
      expect(await store.documentIds("default", "/nothing/")).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
