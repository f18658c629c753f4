import { createRequire } from "node:module";

/**
 * LanceDB is CommonJS and checks `instanceof arrow.Table`; importing
 * apache-arrow from ESM would load a second copy whose classes fail that
 * check. Loading it through `require` shares LanceDB's copy.
 */
export const arrow = createRequire(import.meta.url)("apache-arrow") as typeof import("apache-arrow");
