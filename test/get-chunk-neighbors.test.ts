import { describe, expect, it } from "vitest";
import { connectInMemory, ok, textOf } from "./helpers/mcp.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();

interface Got {
  chunks: { chunk_id: string; text: string; offset?: number; truncated: boolean }[];
  missing: string[];
}

describe("get_chunk with neighbors", () => {
  it("returns the n chunks before and after a chunk of the same document, in document order", async () => {
    const session = await connectInMemory(tempDir());
    try {
      // Written out of order, with ids whose text order is not their document order (#10 sorts before #2 as text).
      const parts = Array.from({ length: 12 }, (_, n) => ({ chunk_id: `guide.md#${n}`, doc_id: "guide.md", text: `part ${n} of the guide`, metadata: { chunk_index: n } }));
      ok(await session.call("index_chunks", { chunks: [...parts.slice(6), ...parts.slice(0, 6)] }));
      ok(await session.call("index_chunks", { chunks: [{ chunk_id: "other#0", doc_id: "other.md", text: "another document" }] }));

      const around = ok<Got>(await session.call("get_chunk", { chunk_id: "guide.md#9", neighbors: 2 }));
      expect(around.chunks.map((c) => [c.chunk_id, c.offset])).toEqual([
        ["guide.md#7", -2],
        ["guide.md#8", -1],
        ["guide.md#9", 0],
        ["guide.md#10", 1],
        ["guide.md#11", 2],
      ]);
      expect(around.missing).toEqual([]);

      // At the edges of the document there is simply less context.
      const start = ok<Got>(await session.call("get_chunk", { chunk_id: "guide.md#1", neighbors: 5, max_chars: 6 }));
      expect(start.chunks.map((c) => c.offset)).toEqual([-1, 0, 1, 2, 3, 4, 5]);
      expect(start.chunks.every((c) => c.text.length <= 6 && c.truncated)).toBe(true);
      expect(ok<Got>(await session.call("get_chunk", { chunk_id: "other#0", neighbors: 3 })).chunks.map((c) => c.chunk_id)).toEqual(["other#0"]);
      expect(ok<Got>(await session.call("get_chunk", { chunk_id: "guide.md#4", neighbors: 0 })).chunks.map((c) => [c.chunk_id, c.offset])).toEqual([["guide.md#4", 0]]);
      expect(ok<Got>(await session.call("get_chunk", { chunk_id: "nope", neighbors: 2 }))).toEqual({ chunks: [], missing: ["nope"] });
      expect(textOf(await session.call("get_chunk", { chunk_id: "guide.md#9", neighbors: 1 }))).toMatch(/part 8 of the guide[\s\S]*part 9 of the guide[\s\S]*part 10 of the guide/);
    } finally {
      await session.close();
    }
  });

  it("orders chunks without a chunk_index by id, numbers compared as numbers, and stays within the chunk's collection", async () => {
    const session = await connectInMemory(tempDir());
    try {
      ok(
        await session.call("index_chunks", {
          chunks: [
            ...[10, 2, 1, 3].map((n) => ({ chunk_id: `note-${n}`, doc_id: "notes", text: `note ${n}` })),
            { chunk_id: "elsewhere-1", doc_id: "notes", collection: "other", text: "same doc id, other collection" },
          ],
        }),
      );
      const got = ok<Got>(await session.call("get_chunk", { chunk_id: "note-3", neighbors: 2 }));
      expect(got.chunks.map((c) => c.chunk_id)).toEqual(["note-1", "note-2", "note-3", "note-10"]);
    } finally {
      await session.close();
    }
  });
});
