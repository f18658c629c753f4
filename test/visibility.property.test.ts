import { rmSync } from "node:fs";
import fc from "fast-check";
import { expect, test } from "vitest";
import { HashEmbedder } from "../src/embed/hash.js";
import { sha256 } from "../src/store/chunk-input.js";
import { SEARCH_MODES, type DeleteInput } from "../src/store/schemas.js";
import type { ChunkView, FaultHooks, IndexResult, Store } from "../src/store/store.js";
import { FaultyEmbedder } from "./helpers/embedders.js";
import { textOf, word } from "./helpers/rewrites.js";
import { DIM, openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";
import { VisibilityModel, type Content } from "./helpers/visibility-model.js";

/**
 * Random sequences of writes (index, indexMany, replaceDocument; waiting
 * for the commit or not), deletes, GC, recovery, optimize, writes abandoned
 * at each phase of the protocol by an injected fault (what a crash leaves),
 * background writes held before their vectors are written, and restarts,
 * run against a real store and against VisibilityModel. After every
 * command the store must show what the model says: each live chunk found
 * exactly once by its own word in every search mode, in its newest
 * committed version; deleted and never-committed chunks nowhere; get_chunk
 * with the write in flight beside the committed version; status counts
 * that agree. After recovery and GC, verify is clean and Lance holds one
 * row per committed chunk.
 *
 * CI runs a fixed seed. RETRIEVAL_MCP_PROPERTY_RUNS=<n> runs longer;
 * RETRIEVAL_MCP_PROPERTY_SEED=<n> (or "random") runs other sequences; a
 * failure prints its seed, path and replayPath; RETRIEVAL_MCP_PROPERTY_PATH
 * and RETRIEVAL_MCP_PROPERTY_REPLAY set to those, with that seed, replay
 * the shrunk counterexample alone.
 */
const RUNS = Number(process.env.RETRIEVAL_MCP_PROPERTY_RUNS || 40);
const SEED_SETTING = process.env.RETRIEVAL_MCP_PROPERTY_SEED || "20261126";
const SEED = SEED_SETTING === "random" ? Math.floor(Math.random() * 2 ** 31) : Number(SEED_SETTING);
const PATH = process.env.RETRIEVAL_MCP_PROPERTY_PATH || undefined;
const REPLAY = process.env.RETRIEVAL_MCP_PROPERTY_REPLAY || undefined;
const MAX_COMMANDS = 30;

const tmp = useTempDirs();
const IDS = Array.from({ length: 8 }, (_, i) => `c${i}`);
const DOCS = ["d0", "d1"];
const COLLECTIONS = ["default", "alpha"];
const TAGS = ["red", "blue"];
/** Shares words with every chunk's text, so a vector search for it ranks them all, each scored on its own vector. */
const EVERYTHING = "notes revision keeper rewrote entry enclosure";
const hash = new HashEmbedder(DIM);

// ------------------------------------------------------------------ the real store

class InjectedFault extends Error {}

type WritePhase = "afterPending" | "afterLanceWrite" | "duringCommit";

/**
 * The store's fault hooks, thrown at one phase when armed (the write is
 * abandoned there, as a crash would leave it), and used as a signal that
 * a background write let go has reached step 3.
 */
class FaultSwitch {
  private armed: keyof FaultHooks | null = null;
  private flushed: (() => void) | null = null;
  readonly hooks: FaultHooks = {
    afterPending: () => this.hit("afterPending"),
    afterLanceWrite: () => {
      this.flushed?.();
      this.flushed = null;
      this.hit("afterLanceWrite");
    },
    duringCommit: () => this.hit("duringCommit"),
    betweenGcDeletes: () => this.hit("betweenGcDeletes"),
  };

  /** Runs `work` with the fault armed; resolves to whether the fault fired (then `work` must have failed with it). */
  async during(point: keyof FaultHooks, work: () => Promise<unknown>): Promise<{ fired: true } | { fired: false; value: unknown }> {
    this.armed = point;
    let value: unknown;
    try {
      value = await work();
    } catch (error) {
      const fired = this.armed === null;
      this.armed = null;
      if (!fired) throw error;
      expect(String(error), `a call cut short at ${point} fails with the fault`).toMatch(new RegExp(`injected at ${point}`));
      return { fired: true };
    }
    const fired = this.armed === null;
    this.armed = null;
    expect(fired, `the fault at ${point} fired, yet the call succeeded`).toBe(false);
    return { fired: false, value };
  }

  /** Resolves once the next Lance write has happened and its step 3 has run. */
  async nextFlush(): Promise<void> {
    await new Promise<void>((resolve) => (this.flushed = resolve));
    // Step 3 follows the hook within microtasks; a macrotask later it is done.
    await new Promise((resolve) => setImmediate(resolve));
  }

  private hit(point: keyof FaultHooks): void {
    if (this.armed !== point) return;
    this.armed = null;
    throw new InjectedFault(`injected at ${point}`);
  }
}

interface Real {
  dir: string;
  /** Visibility checks so far in this run. */
  checks: number;
  store: Store;
  embedder: FaultyEmbedder;
  faults: FaultSwitch;
}

function open(dir: string, faults: FaultSwitch): Promise<Real> {
  const embedder = new FaultyEmbedder();
  // keepVersionsMs 0: optimize prunes every old Lance version, the harshest it can be to readers.
  return openStore(dir, { embedder, faults: faults.hooks, keepVersionsMs: 0 }).then((store) => ({ dir, checks: 0, store, embedder, faults }));
}

/** What the run exercised, so the property cannot pass by never reaching the interesting states. */
const tally = { commands: 0, faultsFired: 0, heldWrites: 0, abandonedHeld: 0, rewritesSeenInFlight: 0, replacements: 0, verified: 0 };

// ------------------------------------------------------------------ what must be visible

/** The fields that make a version, of a model version, a get_chunk view or a search hit. */
const contentFields = ({ chunk_id, text, metadata, collection, doc_id }: Content): Content => ({ chunk_id, text, metadata, collection, doc_id });

function expectedView(m: VisibilityModel, id: string) {
  const { committed, pending } = m.chunk(id);
  const shown = committed ?? pending;
  if (!shown) return null;
  return {
    ...contentFields(shown),
    status: committed ? "committed" : "pending",
    content_hash: sha256(shown.text),
    pending: committed && pending ? sha256(pending.text) : null,
  };
}

const viewOf = (v: ChunkView) => ({
  ...contentFields(v),
  status: v.status,
  content_hash: v.content_hash,
  pending: v.pending?.content_hash ?? null,
});

/** Search hits must be committed versions the model knows, each chunk once. */
function expectCommittedHits(m: VisibilityModel, hits: readonly Content[], what: string): void {
  expect(new Set(hits.map((h) => h.chunk_id)).size, `${what}: a chunk twice`).toBe(hits.length);
  for (const hit of hits) {
    const committed = m.chunk(hit.chunk_id)?.committed;
    expect(committed, `${what}: ${hit.chunk_id} is not committed, yet found`).toBeTruthy();
    expect(contentFields(hit), `${what}: ${hit.chunk_id} in another version than the newest committed`).toEqual(contentFields(committed!));
  }
}

async function expectVisible(m: VisibilityModel, r: Real): Promise<void> {
  const { store } = r;
  const committed = IDS.filter((id) => m.chunk(id).committed);
  const views = await store.get(IDS);
  expect(views.map(viewOf), "get").toEqual(IDS.map((id) => expectedView(m, id)).filter((v) => v !== null));
  for (const view of views) {
    const c = m.chunk(view.chunk_id);
    const shown = c.committed ?? c.pending!;
    if (shown.generation !== null) expect(view.generation, `get ${view.chunk_id}: generation`).toBe(shown.generation);
    if (c.committed && c.pending && c.pending.generation !== null) expect(view.pending?.generation, `get ${view.chunk_id}: pending generation`).toBe(c.pending.generation);
    if (view.pending) tally.rewritesSeenInFlight++;
  }

  for (const collection of [undefined, ...COLLECTIONS]) {
    for (const doc of DOCS) {
      const inDoc = (v: Content | null) => v?.doc_id === doc && (collection === undefined || v.collection === collection);
      const expected = IDS.filter((id) => inDoc(m.chunk(id).committed) || (!m.chunk(id).committed && inDoc(m.chunk(id).pending)))
        .sort()
        .map((id) => expectedView(m, id));
      expect((await store.documentChunks(doc, collection)).map(viewOf), `documentChunks ${collection ?? "*"}/${doc}`).toEqual(expected);
    }
  }

  const status = await store.status(IDS);
  const counts = m.counts();
  expect(status.counts, "status counts").toEqual({ pending: counts.pending, committed: counts.committed, tombstone: counts.tombstone });
  expect(status.chunks).toBe(counts.pending + counts.committed);
  expect(status.rewrites_in_flight).toBe(counts.rewrites);
  for (const state of status.chunk_states!) {
    const c = m.chunk(state.chunk_id);
    const recorded = c.pending ? "pending" : c.committed ? "committed" : c.tombstone ? "tombstone" : "missing";
    expect(state.status, `status of ${state.chunk_id}`).toBe(recorded);
    expect(state.committed_generation !== null, `status of ${state.chunk_id}: committed`).toBe(c.committed !== null);
    if (c.committed && c.committed.generation !== null) expect(state.committed_generation, `status of ${state.chunk_id}: committed generation`).toBe(c.committed.generation);
  }

  // Every committed chunk exactly once, each scored on the vector of its own version (I1), nothing else.
  const everything = await store.search({ query: EVERYTHING, k: 50, mode: "vector" });
  expectCommittedHits(m, everything.results, "vector search for all");
  expect(everything.results.map((h) => h.chunk_id).sort(), "vector search for all").toEqual(committed);
  const [query] = await hash.embed([EVERYTHING], { kind: "query" });
  for (const hit of everything.results) {
    const [vector] = await hash.embed([hit.text], { kind: "document" });
    const dot = vector!.reduce((sum, x, i) => sum + x * query![i]!, 0);
    expect(hit.score, `${hit.chunk_id} scored on another version's vector`).toBeCloseTo(dot, 4);
  }

  for (const id of committed) {
    const i = IDS.indexOf(id);
    for (const mode of SEARCH_MODES) {
      const { results } = await store.search({ query: word(i), k: 3, mode });
      expectCommittedHits(m, results, `${mode} search for ${id}'s word`);
      expect(results.filter((h) => h.chunk_id === id).length, `${mode} search for ${id}'s word finds it`).toBe(1);
    }
  }

  // Scopes and filters judge each chunk by its committed version, not by a rewrite in flight. Every chunk has
  // EVERYTHING's words, so each mode finds them all; the mode of each scope turns from one check to the next.
  let turn = r.checks++;
  for (const collection of COLLECTIONS) {
    if (!m.hasCollection(collection)) {
      await expect(store.search({ query: EVERYTHING, collection }), `collection ${collection} does not exist`).rejects.toThrow(/no chunk is in collection/);
      continue;
    }
    for (const doc of [undefined, ...DOCS]) {
      const mode = SEARCH_MODES[turn++ % SEARCH_MODES.length]!;
      const { results } = await store.search({ query: EVERYTHING, k: 50, mode, collection, doc_id: doc });
      const scope = `${mode} search in ${collection}/${doc ?? "*"}`;
      expectCommittedHits(m, results, scope);
      const expected = committed.filter((id) => m.chunk(id).committed!.collection === collection && (doc === undefined || m.chunk(id).committed!.doc_id === doc));
      expect(results.map((h) => h.chunk_id).sort(), scope).toEqual(expected);
    }
  }
  const red = await store.search({ query: EVERYTHING, k: 50, mode: "hybrid", filter: { tag: "red" } });
  expectCommittedHits(m, red.results, "hybrid search filtered by tag");
  expect(red.results.map((h) => h.chunk_id).sort(), "hybrid search filtered by tag").toEqual(committed.filter((id) => m.chunk(id).committed!.metadata.tag === "red"));
}

/** I3 after recovery and GC: nothing pending or tombstoned, verify clean, exactly one Lance row per committed chunk. */
async function expectConverged(m: VisibilityModel, r: Real): Promise<void> {
  const status = await r.store.status();
  expect(status.counts.pending).toBe(0);
  expect(status.counts.tombstone).toBe(0);
  expect(status.superseded_awaiting_gc).toBe(0);
  const verify = await r.store.verify();
  expect(verify, "verify after recovery and GC").toMatchObject({ ok: true, problems: [] });
  expect(verify.checked.lance_rows, "Lance rows after recovery and GC").toBe(m.counts().committed);
  tally.verified++;
}

// ------------------------------------------------------------------ commands

type Cmd = fc.AsyncCommand<VisibilityModel, Real>;
type Variant = "new" | "same-text" | "repeat";

/** One chunk of a write: which chunk, and what changes (new text; same text, new metadata; or the committed content again). */
interface Item {
  id: number;
  variant: Variant;
  tag: string;
  doc: string | null;
  collection: string;
}

const describeItem = (item: Item, placed: boolean) =>
  `${IDS[item.id]}:${item.variant}${item.variant === "repeat" ? "" : `/${item.tag}`}${placed ? "" : `@${item.collection}/${item.doc ?? "-"}`}`;

/** The content a generated item stands for, given what the chunk holds now; `place` overrides where it goes (a replacement). */
function contentOf(m: VisibilityModel, item: Item, place: { doc_id: string; collection: string } | null): Content {
  const chunk_id = IDS[item.id]!;
  const { committed, pending } = m.chunk(chunk_id);
  if (item.variant === "repeat" && committed) return { ...contentFields(committed), ...place };
  const rev = ++m.revision;
  const newest = pending ?? committed;
  return {
    chunk_id,
    text: item.variant === "same-text" && newest ? newest.text : textOf(item.id, rev),
    metadata: { tag: item.tag, rev },
    collection: place?.collection ?? item.collection,
    doc_id: place ? place.doc_id : item.doc,
  };
}

/**
 * Step 1 in the model, the call on the store, then the answer checked and
 * the model moved on: committed (wait), held in the background (no wait),
 * or left pending by the fault (which must then have fired).
 */
async function write(m: VisibilityModel, r: Real, inputs: Content[], replace: { doc_id: string; collection: string } | null, wait: boolean, fault: WritePhase | null): Promise<void> {
  const staged = m.stage(inputs, replace);
  const held = !wait && staged.keys.length > 0 ? r.embedder.holdNextDocuments() : null;
  const call = async (): Promise<{ results: IndexResult[]; removed: string[] }> => {
    if (replace) return r.store.replaceDocument(replace, inputs.map(({ chunk_id, text, metadata }) => ({ chunk_id, text, metadata })), { wait });
    const plain = inputs.map(({ chunk_id, text, metadata, collection, doc_id }) => ({ chunk_id, text, metadata, collection, ...(doc_id === null ? {} : { doc_id }) }));
    return { results: plain.length === 1 ? [await r.store.index(plain[0], { wait })] : await r.store.indexMany(plain, { wait }), removed: [] };
  };
  const outcome = fault ? await r.faults.during(fault, call) : { fired: false as const, value: await call() };
  if (outcome.fired) {
    tally.faultsFired++;
    return;
  }
  const { results, removed } = outcome.value as Awaited<ReturnType<typeof call>>;
  expect(results.map((x) => x.status), "statuses").toEqual(staged.changed.map((changed) => (!changed ? "unchanged" : wait ? "committed" : "pending")));
  expect([...removed].sort(), "removed").toEqual([...staged.removed].sort());
  m.noteGenerations(
    staged.keys,
    results.filter((x) => x.status !== "unchanged").map((x) => x.generation),
  );
  if (wait) {
    m.commit(staged.keys);
  } else if (held) {
    await held;
    m.hold(staged.keys);
    tally.heldWrites++;
  }
}

abstract class Checked implements Cmd {
  check(): boolean {
    return true;
  }

  async run(m: VisibilityModel, r: Real): Promise<void> {
    tally.commands++;
    await this.apply(m, r);
    await expectVisible(m, r);
  }

  abstract apply(m: VisibilityModel, r: Real): Promise<void>;
  abstract toString(): string;
}

class Index extends Checked {
  constructor(
    readonly items: Item[],
    readonly wait: boolean,
    readonly fault: WritePhase | null,
  ) {
    super();
  }

  apply(m: VisibilityModel, r: Real): Promise<void> {
    return write(m, r, this.items.map((item) => contentOf(m, item, null)), null, this.wait, this.fault);
  }

  toString(): string {
    return `index${this.wait ? "" : "(no wait)"}${this.fault ? `(fault ${this.fault})` : ""} ${this.items.map((i) => describeItem(i, false)).join(" ")}`;
  }
}

class Replace extends Checked {
  constructor(
    readonly doc: string,
    readonly collection: string,
    readonly items: Item[],
    readonly wait: boolean,
    readonly fault: WritePhase | null,
  ) {
    super();
  }

  apply(m: VisibilityModel, r: Real): Promise<void> {
    tally.replacements++;
    const place = { doc_id: this.doc, collection: this.collection };
    return write(m, r, this.items.map((item) => contentOf(m, item, place)), place, this.wait, this.fault);
  }

  toString(): string {
    return `replace${this.wait ? "" : "(no wait)"}${this.fault ? `(fault ${this.fault})` : ""} ${this.collection}/${this.doc} [${this.items.map((i) => describeItem(i, true)).join(" ")}]`;
  }
}

class Delete extends Checked {
  constructor(readonly by: { chunk_ids: number[] } | { doc_id: string; collection?: string }) {
    super();
  }

  async apply(m: VisibilityModel, r: Real): Promise<void> {
    let input: DeleteInput;
    let expected: string[];
    if ("chunk_ids" in this.by) {
      const ids = this.by.chunk_ids.map((i) => IDS[i]!);
      input = ids.length === 1 ? { chunk_id: ids[0]! } : { chunk_ids: ids };
      expected = m.delete(ids);
    } else {
      input = this.by;
      expected = m.delete(m.idsOfDocument(this.by.doc_id, this.by.collection ?? null));
    }
    const result = await r.store.delete(input);
    expect([...result.chunk_ids].sort(), "deleted").toEqual([...expected].sort());
    expect(result.deleted).toBe(expected.length);
    expect(result.pending_gc).toBe(m.counts().tombstone);
  }

  toString(): string {
    return "chunk_ids" in this.by ? `delete ${this.by.chunk_ids.map((i) => IDS[i]).join(",")}` : `delete doc ${this.by.collection ?? "*"}/${this.by.doc_id}`;
  }
}

class Gc extends Checked {
  constructor(readonly fault: boolean) {
    super();
  }

  async apply(m: VisibilityModel, r: Real): Promise<void> {
    const tombstones = m.counts().tombstone;
    const gc = () => r.store.gc();
    const outcome = this.fault ? await r.faults.during("betweenGcDeletes", gc) : { fired: false, value: await gc() };
    if (outcome.fired) {
      // Tombstones are collected first: with any, the fault hits them, and they stay for the next GC.
      tally.faultsFired++;
      return;
    }
    expect(tombstones === 0 || !this.fault, "a GC fault with tombstones to collect fires").toBe(true);
    m.gc();
    if (m.counts().pending === 0) await expectConverged(m, r);
  }

  toString(): string {
    return this.fault ? "gc(fault betweenGcDeletes)" : "gc";
  }
}

/** Recovery commits every pending write; with a fault in its step 3 (the recovering process dies too) it commits none. */
class Recover extends Checked {
  constructor(
    readonly reconcile: boolean,
    readonly fault: boolean,
  ) {
    super();
  }

  async apply(m: VisibilityModel, r: Real): Promise<void> {
    const recover = () => r.store.recover({ reconcile: this.reconcile });
    const outcome = this.fault ? await r.faults.during("duringCommit", recover) : { fired: false, value: await recover() };
    expect(outcome.fired, "recovery with writes to redo reaches step 3").toBe(this.fault && m.counts().pending > 0);
    if (outcome.fired) tally.faultsFired++;
    else m.recover();
  }

  toString(): string {
    return `recover${this.reconcile ? "(reconcile)" : ""}${this.fault ? "(fault duringCommit)" : ""}`;
  }
}

class Optimize extends Checked {
  async apply(_m: VisibilityModel, r: Real): Promise<void> {
    await r.store.optimize();
  }

  toString(): string {
    return "optimize";
  }
}

/** The oldest background write held before step 2 goes ahead. */
class Release extends Checked {
  async apply(m: VisibilityModel, r: Real): Promise<void> {
    await release(m, r);
  }

  toString(): string {
    return "release";
  }
}

async function release(m: VisibilityModel, r: Real): Promise<boolean> {
  const released = r.embedder.releaseOldest();
  expect(released, "a background write is held").toBe(m.heldWrites > 0);
  if (!released) return false;
  // Set before any microtask runs: the write let go cannot reach Lance sooner.
  await r.faults.nextFlush();
  m.releaseOldest();
  return true;
}

/** The process stops (background writes held before step 2 die with it) and starts again; no recovery yet. */
class Reopen extends Checked {
  async apply(m: VisibilityModel, r: Real): Promise<void> {
    tally.abandonedHeld += m.heldWrites;
    await r.store.close();
    Object.assign(r, await open(r.dir, r.faults), { checks: r.checks });
    m.abandonHeld();
  }

  toString(): string {
    return "reopen";
  }
}

const item = fc.record({
  id: fc.nat({ max: IDS.length - 1 }),
  variant: fc.oneof({ weight: 6, arbitrary: fc.constant<Variant>("new") }, fc.constant<Variant>("same-text"), fc.constant<Variant>("repeat")),
  tag: fc.constantFrom(...TAGS),
  doc: fc.constantFrom(null, ...DOCS),
  collection: fc.constantFrom(...COLLECTIONS),
});
const items = (min: number, max: number) => fc.uniqueArray(item, { minLength: min, maxLength: max, selector: (i) => i.id });
/** A write waits for its commit, or is held in the background (no wait), or is abandoned at a phase by a fault. */
const how: fc.Arbitrary<{ wait: boolean; fault: WritePhase | null }> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ wait: true, fault: null }) },
  { weight: 2, arbitrary: fc.constant({ wait: false, fault: null }) },
  { weight: 2, arbitrary: fc.constantFrom<WritePhase>("afterPending", "afterLanceWrite", "duringCommit").map((fault) => ({ wait: true, fault })) },
);

const commands: fc.Arbitrary<Cmd>[] = [
  fc.tuple(items(1, 1), how).map(([i, h]) => new Index(i, h.wait, h.fault)),
  fc.tuple(items(1, 4), how).map(([i, h]) => new Index(i, h.wait, h.fault)),
  fc.tuple(fc.constantFrom(...DOCS), fc.constantFrom(...COLLECTIONS), items(0, 3), how).map(([d, c, i, h]) => new Replace(d, c, i, h.wait, h.fault)),
  fc.uniqueArray(fc.nat({ max: IDS.length - 1 }), { minLength: 1, maxLength: 3 }).map((ids) => new Delete({ chunk_ids: ids })),
  fc.tuple(fc.constantFrom(...DOCS), fc.option(fc.constantFrom(...COLLECTIONS), { nil: undefined })).map(
    ([doc_id, collection]) => new Delete(collection === undefined ? { doc_id } : { doc_id, collection }),
  ),
  fc.boolean().map((fault) => new Gc(fault)),
  fc.tuple(fc.boolean(), fc.boolean()).map(([reconcile, fault]) => new Recover(reconcile, fault)),
  fc.constant(new Optimize()),
  fc.constant(new Release()),
  fc.constant(new Reopen()),
];

// ------------------------------------------------------------------ the property

test(`every search shows each live chunk once, in its newest committed version, through random writes, deletes, faults and restarts (${RUNS} runs, seed ${SEED})`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.commands(commands, { maxCommands: MAX_COMMANDS, size: "max", replayPath: REPLAY }), async (cmds) => {
      const dir = tmp();
      const model = new VisibilityModel(IDS);
      const real = await open(dir, new FaultSwitch());
      try {
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        // Whatever the sequence left: background writes finish, recovery and GC run, and the store converges.
        while (await release(model, real));
        await real.store.recover();
        model.recover();
        await real.store.gc();
        model.gc();
        await expectVisible(model, real);
        await expectConverged(model, real);
      } finally {
        await real.store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: RUNS, seed: SEED, path: PATH, endOnFailure: PATH !== undefined },
  );
  console.log(`visibility property: ${RUNS} runs, seed ${SEED}:`, tally);
  if (PATH !== undefined) return; // a replay runs one sequence, not the variety checked below
  expect(tally.faultsFired).toBeGreaterThan(0);
  expect(tally.heldWrites).toBeGreaterThan(0);
  expect(tally.abandonedHeld).toBeGreaterThan(0);
  expect(tally.rewritesSeenInFlight).toBeGreaterThan(0);
}, 120_000 + RUNS * 10_000);
