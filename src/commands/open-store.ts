import type { CommandContext } from "../cli/command.js";
import type { Store, StoreOptions } from "../store/store.js";

/** Logs go to stderr: stdout carries command output (or, for `serve`, only the protocol). */
export function logToStderr(message: string): void {
  process.stderr.write(`retrieval-mcp: ${message}\n`);
}

/**
 * Loaded on first use: LanceDB and SQLite take a good part of start-up time,
 * and `serve` must answer `initialize` before it needs either.
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  const { Store } = await import("../store/store.js");
  return Store.open(options);
}

/**
 * One-shot commands drive recovery and GC themselves, so the store's
 * background timers stay off: `verify` must see damage as it is, not
 * half-repaired by a recovery pass started on open.
 */
export function openCommandStore(context: CommandContext): Promise<Store> {
  return openStore({ dataDir: context.dataDir, embedder: context.embedder, background: false, log: logToStderr });
}

/** Runs `work` on an open store and closes it whatever happens. */
export async function withStore<T>(context: CommandContext, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openCommandStore(context);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
