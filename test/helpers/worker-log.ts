import { expect } from "vitest";
import type { Store } from "../../src/store/store.js";

interface WorkerLine {
  ready?: boolean;
  done?: boolean;
  begin?: "index" | "delete";
  ack?: "index" | "delete";
  ids?: string[];
  texts?: string[];
}

/**
 * What the store may hold for each chunk id, given what workers were
 * acknowledged (I2) and what they had begun when they died: an
 * acknowledged operation fixes the state; an unacknowledged one adds a
 * possibility. `null` stands for "absent".
 */
export class ExpectedState {
  private readonly possible = new Map<string, Set<string | null>>();
  private readonly touched = new Set<string>();
  acknowledged = 0;

  constructor(readonly ids: string[]) {
    for (const id of ids) this.possible.set(id, new Set([null]));
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
        const set = this.possible.get(id)!;
        this.touched.add(id);
        if (message.ack) {
          set.clear();
          this.acknowledged++;
        }
        set.add(value);
      });
    }
  }

  async check(store: Store): Promise<void> {
    await ExpectedState.checkTogether(store, [this]);
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
      for (const s of states) s.possible.set(id, new Set([actual]));
    }
  }
}
