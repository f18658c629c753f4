import { StoreError } from "./store/errors.js";
import type { Store } from "./store/store.js";

export interface LazyStore {
  /** The store, opened on the first call and shared by every later one. */
  get(): Promise<Store>;
  /** Closes the store if it was ever opened; later `get()` calls fail. */
  close(): Promise<void>;
}

/**
 * Opening a store may load a model and open Lance; the server must answer
 * `initialize` and `tools/list` before that, and every MCP session of one
 * process must share one store (one SQLite handle, one Lance writer).
 */
export function lazyStore(open: () => Promise<Store>): LazyStore {
  let opening: Promise<Store> | null = null;
  let closed = false;
  return {
    get() {
      if (closed) return Promise.reject(new StoreError("closed", "The server is shutting down; reconnect to start a new one."));
      if (!opening) {
        opening = open();
        // A failed open (e.g. a model mismatch the user then fixes) is retried on the next call.
        opening.catch(() => (opening = null));
      }
      return opening;
    },
    async close() {
      closed = true;
      const store = await opening?.catch(() => null);
      await store?.close();
    },
  };
}
