import { HashEmbedder } from "../../src/embed/hash.js";
import { Store, type StoreOptions } from "../../src/store/store.js";
import { SQLITE, type TestBackend } from "./backends.js";

export const DIM = 64;

/** A store in `dataDir`, its metadata on `backend` (SQLite by default). */
export async function openStore(dataDir: string, options: Partial<StoreOptions> = {}, backend: TestBackend = SQLITE): Promise<Store> {
  return Store.open({ ...(await backend.location(dataDir)), embedder: new HashEmbedder(DIM), background: false, ...options });
}
