/**
 * The one way the code base loads LanceDB: lance-env.ts runs first
 * (imports are evaluated in order), so LanceDB's thread pool and buffers are sized
 * before LanceDB reads its environment.
 */
import "./lance-env.js";

export * from "@lancedb/lancedb";
