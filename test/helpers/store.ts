import { HashEmbedder } from "../../src/embed/hash.js";
import { Store, type StoreOptions } from "../../src/store/store.js";

export const DIM = 64;

export function openStore(dataDir: string, options: Partial<StoreOptions> = {}): Promise<Store> {
  return Store.open({ dataDir, embedder: new HashEmbedder(DIM), background: false, ...options });
}
