import { expect } from "vitest";
import type { Store } from "../../src/store/store.js";

interface WorkerLine {
  ready?: boolean;
  done?: boolean;
  begin?: "index" | "delete";
  ack?: "index" | "delete";
  ids?: string[];
  texts?: string[];
  /** Of an acknowledged index: "pending" for a wait:false write, not committed yet. */
  status?: string;
}

/**
 * What the store may hold for each chunk id, given what workers were
 * acknowledged (I2) and what they had begun when they died: an
 * acknowledged operation fixes the state; an unacknowledged one adds a
 * possibility. `null` stands for "absent".
 *
 * `servable` is what search may show before recovery has run: the same,
 * except that a write acknowledged as pending (wait:false) leaves the
 * previous committed version servable until it commits.
 */
export class ExpectedState {
  private readonly possible = new Map<string, Set<string | null>>();
  private readonly servable = new Map<string, Set<string | null>>();
  private readonly touched = new Set<string>();
  acknowledged = 0;

  constructor(readonly ids: string[]) {
    for (const id of ids) {
      this.possible.set(id, new Set([null]));
      this.servable.set(id, new Set([null]));
    }
  }

  /** Feeds one worker's complete stdout lines, in order. */
  apply(stdout: string): void {
    const lines = stdout.split("\n");
    lines.pop(); // a line cut by the kill is not a message
    for (const line of lines) {
      const message = JSON.parse(line) as WorkerLine;
      const op = message.begin ?? message.ack;
      if (!op || !message.ids) continue;
      message.ids.forEach((id, i) => {
        const value = op === "index" ? message.texts![i]! : null;
        const possible = this.possible.get(id)!;
        const servable = this.servable.get(id)!;
        this.touched.add(id);
        if (message.ack) {
          possible.clear();
          if (message.status !== "pending") servable.clear();
          this.acknowledged++;
        }
        possible.add(value);
        servable.add(value);
      });
    }
  }

  async check(store: Store): Promise<void> {
    await ExpectedState.checkTogether(store, [this]);
  }

  /**
   * Before recovery: every chunk is served in a version it may show (a
   * chunk whose rewrite was cut short by the kill in its previous
   * committed version), and search finds it in that version. Returns how
   * many chunks were being rewritten, i.e. were found in their old version
   * next to a pending new one.
   */
  async checkServed(store: Store): Promise<number> {
    let rewrites = 0;
    for (const id of this.ids) {
      const [chunk] = await store.get([id]);
      const served = chunk?.status === "committed" ? chunk.text : null;
      expect([...this.servable.get(id)!], `chunk ${id} before recovery`).toContain(served);
      if (chunk?.pending) rewrites++;
      if (served === null) continue;
      for (const mode of ["hybrid", "vector", "keyword"] as const) {
        const { results } = await store.search({ query: served, k: 3, mode });
        expect(results[0], `${mode} search for ${id}'s text before recovery`).toMatchObject({ chunk_id: id, text: served });
      }
    }
    return rewrites;
  }

  /**
   * Checks the store against the possibilities (I1, I2), then narrows each
   * id to what the store actually holds for the next round. For workers
   * that ran side by side, a chunk may hold the outcome of whichever
   * worker touched it last.
   */
  static async checkTogether(store: Store, states: readonly ExpectedState[]): Promise<void> {
    for (const id of states[0]!.ids) {
      const [chunk] = await store.get([id]);
      const actual = chunk?.text ?? null;
      const writers = states.filter((s) => s.touched.has(id));
      const allowed = (writers.length > 0 ? writers : states).flatMap((s) => [...s.possible.get(id)!]);
      expect(allowed, `chunk ${id}`).toContain(actual);
      if (chunk) {
        expect(chunk.status, `chunk ${id}`).toBe("committed");
        const { results } = await store.search({ query: chunk.text, k: 3 });
        expect(results[0], `search for ${id}'s text`).toMatchObject({ chunk_id: id, text: chunk.text });
        expect(new Set(results.map((r) => r.chunk_id)).size).toBe(results.length);
      }
      for (const s of states) {
        s.possible.set(id, new Set([actual]));
        s.servable.set(id, new Set([actual]));
      }
    }
  }
}
