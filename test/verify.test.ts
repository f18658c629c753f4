import { describe, expect, test } from "vitest";
import { storeBackends } from "./helpers/backends.js";
import { deleteLanceRows, writeOrphanLanceRow } from "./helpers/damage.js";
import { DIM, openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();

describe.each(storeBackends())("verify over $name", (backend) => {
  test("listing the store two chunks at a time finds exactly what one listing finds, damage at the slices' edges included, and repair clears it", async () => {
    const dir = tmp();
    const writer = await openStore(dir, {}, backend);
    const written = await writer.indexMany(Array.from({ length: 10 }, (_, i) => ({ chunk_id: `c0${i}`, text: `note ${i} about herons` })));
    await writer.close();
    const generation = (id: string) => written.find((r) => r.chunk_id === id)!.generation;
    // Slices of two end at c01, c03, c05, c07, c09. Rows of chunks no record knows: before the first id, between
    // two slices' ids and after the last; a stale row of c05, the end of a slice; a second row of c03's committed
    // version; c07's row lost.
    for (const orphan of ["a-before", "c04x", "zz-after"]) await writeOrphanLanceRow(dir, orphan, DIM);
    await writeOrphanLanceRow(dir, "c05", DIM, generation("c05") + 1_000);
    await writeOrphanLanceRow(dir, "c03", DIM, generation("c03"));
    await deleteLanceRows(dir, "c07");

    const whole = await openStore(dir, {}, backend);
    const expected = await whole.verify();
    await whole.close();
    expect(expected.checked).toEqual({ records: 10, lance_rows: 14 });
    expect(expected.problems).toEqual([
      { kind: "orphan_or_stale_lance_rows", count: 4, sample: ["a-before", "c04x", "c05", "zz-after"] },
      { kind: "duplicate_lance_rows", count: 1, sample: ["c03"] },
      { kind: "committed_without_vector", count: 1, sample: ["c07"] },
    ]);

    const sliced = await openStore(dir, { reconcileSliceChunks: 2 }, backend);
    expect(await sliced.verify()).toEqual(expected);
    await sliced.verify({ repair: true });
    expect(await sliced.verify()).toMatchObject({ ok: true, checked: { records: 10, lance_rows: 10 }, problems: [] });
    expect((await sliced.search({ query: "note 7 about herons", k: 1, mode: "vector" })).results[0]?.chunk_id).toBe("c07");
    await sliced.close();
  });
});
