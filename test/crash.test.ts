import { expect, test } from "vitest";
import type { FaultHooks } from "../src/store/store.js";
import { collect, spawnTs } from "./helpers/processes.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";
import { ExpectedState } from "./helpers/worker-log.js";

const tmp = useTempDirs();

const ROUNDS = 24;
const IDS = 40;
const PHASES: (keyof FaultHooks)[] = ["afterPending", "afterLanceWrite", "duringCommit", "betweenGcDeletes"];

/**
 * Kills a writing process with SIGKILL, at random moments and at each phase
 * boundary of the write and GC, then restarts and checks, before recovery
 * runs, that every chunk is served in a version it may show (a rewrite cut
 * short leaves the old version searchable), and after recovery I1-I4:
 * every acknowledged write is searchable, every acknowledged delete stays
 * deleted, recovery leaves nothing pending, GC no tombstones, and Lance
 * holds exactly one row per committed chunk.
 */
test(`SIGKILL at random moments and at phase boundaries, ${ROUNDS} times, loses nothing acknowledged and never hides a chunk being rewritten`, async () => {
  const dir = tmp();
  const expected = new ExpectedState(Array.from({ length: IDS }, (_, i) => `k${i}`));
  let killedAtBoundary = 0;
  let rewritesCutShort = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const seed = 1 + Math.floor(Math.random() * 2 ** 31);
    const boundary = round % 2 === 1 ? PHASES[(round >> 1) % PHASES.length] : undefined;
    const child = spawnTs("test/fixtures/store-worker.ts", [dir, `w${round}`, "1000000", String(seed)], {
      WORKER_IDS: String(IDS),
      ...(boundary ? { CRASH_AT: boundary, CRASH_CHANCE: "0.08" } : {}),
    });
    const finished = collect(child);
    // Kill once it has been writing for a random while (or let it kill itself at the boundary first).
    await new Promise<void>((resolve) => {
      let ready = false;
      child.stdout!.on("data", (d: Buffer) => {
        if (ready || !d.toString().includes('"ready"')) return;
        ready = true;
        setTimeout(() => {
          child.kill("SIGKILL");
          resolve();
        }, 200 + Math.random() * (boundary ? 3000 : 1200));
      });
      child.on("close", () => resolve());
    });
    const result = await finished;
    expect(result.signal, `round ${round} (seed ${seed}) stderr: ${result.stderr}`).toBe("SIGKILL");
    expect(result.stderr).not.toMatch(/database is locked|Error/);
    expect(result.stdout).toContain('"ready"');
    if (boundary && result.stdout.split("\n").length > 1) killedAtBoundary++;
    expected.apply(result.stdout);

    const store = await openStore(dir);
    rewritesCutShort += await expected.checkServed(store);
    await store.recover({ reconcile: true });
    await store.gc();
    const status = await store.status();
    expect(status.counts.pending, `round ${round}`).toBe(0);
    expect(status.counts.tombstone, `round ${round}`).toBe(0);
    await expected.check(store);
    const verify = await store.verify();
    expect(verify, `round ${round} (seed ${seed})`).toMatchObject({ ok: true, problems: [] });
    expect(verify.checked.lance_rows).toBe(status.counts.committed);
    await store.close();
  }
  expect(expected.acknowledged).toBeGreaterThan(ROUNDS * 3);
  expect(killedAtBoundary).toBeGreaterThan(0);
  expect(rewritesCutShort, "kills that left a rewrite pending, whose old version was then searchable").toBeGreaterThan(0);
  // 24 rounds of start, write, kill and check take about a minute on a quiet 2-core machine, a few on a busy one.
}, 600_000);
