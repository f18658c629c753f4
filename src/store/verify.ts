import type { StoreCore } from "./core.js";
import { StoreError } from "./errors.js";
import { describePlan, emptyPlan, planReconcile } from "./reconcile-plan.js";
import { DEFAULT_TABLE, SETTINGS } from "./settings-keys.js";
import type { VerifyReport } from "./types.js";
import { quarantineNewestManifest } from "./lance-manifest.js";
import { tableLocation } from "./vectors-location.js";
import type { Writer } from "./write.js";

/** How many newest manifests verify --repair may set aside to get a damaged table open. */
const MAX_MANIFESTS_SET_ASIDE = 3;

/**
 * Compares Lance with SQLite over the whole store (invariants I1-I4) and,
 * with `repair`, removes rows no live record owns and re-writes committed
 * records whose vector is missing or duplicated.
 */
export async function reconcile(core: StoreCore, writer: Writer, repair: boolean): Promise<VerifyReport> {
  // Chunks of a store never bound to a model (an old data directory) get their vectors from a repair, which binds it.
  const table = repair && (await core.meta.counts()).chunks > 0 ? await core.vectors() : await core.vectorsIfBound();
  const scanStart = Date.now();
  if (table) await core.catchUp(table);
  const plan = emptyPlan();
  const checked = { records: 0, lance_rows: 0 };
  for (let after: string | null = null; ; ) {
    // The slice's end is fixed before either side is listed, and Lance is listed first: a version's record is
    // written before its row, so every row listed has its record listed too, and is never taken for an orphan.
    const upTo = await core.meta.chunkIdAfter(after, core.options.reconcileSliceChunks);
    const range = { after, upTo };
    const keys = table ? await table.keys(range) : [];
    const records = await core.meta.recordsIn(range);
    planReconcile(records, keys, scanStart, plan);
    checked.records += records.length;
    checked.lance_rows += keys.length;
    if (upTo === null) break;
    after = upTo;
  }
  const problems = describePlan(plan);
  if (repair && table) {
    if (plan.orphans.length > 0) {
      await core.assertWritable().run(async () => {
        await core.catchUp(table);
        const version = await table.deleteExactly(plan.orphans);
        if (version !== null) await core.meta.noteLanceVersion(table.name, version);
      });
    }
    // A fresh version under a new generation supersedes the lost or doubled row; GC removes what it replaces.
    const redo = [...plan.duplicates, ...plan.missing].filter((r) => r.status === "committed");
    const ids = new Set(redo.map((r) => r.chunk_id));
    await core.meta.rependCommitted(redo.map((r) => ({ chunk_id: r.chunk_id, generation: r.generation })));
    await writer.drive((await core.meta.pending(Date.now(), Number.MAX_SAFE_INTEGER)).filter((w) => ids.has(w.chunk_id)));
  }
  return { ok: problems.length === 0, checked, problems, repaired: repair };
}

/**
 * A table that fails to open after a power cut is opened at an earlier
 * version by setting its newest manifests aside, one at a time; recovery
 * then re-writes whatever those versions held, from SQLite.
 */
export async function reopenPastBrokenManifests(core: StoreCore): Promise<void> {
  for (let attempt = 0; attempt < MAX_MANIFESTS_SET_ASIDE; attempt++) {
    try {
      await core.vectorsIfBound();
      return;
    } catch (error) {
      // On object storage there is nothing to set aside here; the error says what to do there.
      const location = core.storage.location;
      if (!(error instanceof StoreError && error.code === "lance_corrupt") || location.kind !== "directory") throw error;
      const name = (await core.meta.getSetting<string>(SETTINGS.table)) ?? DEFAULT_TABLE;
      const aside = quarantineNewestManifest(tableLocation(location, name));
      if (!aside) throw error;
      core.log(`set aside the unreadable Lance manifest ${aside}`);
    }
  }
  await core.vectorsIfBound();
}
