/**
 * The one way the code base loads LanceDB: lance-threads.ts runs first
 * (imports are evaluated in order), so LanceDB's thread pool is sized
 * before LanceDB reads its environment.
 */
import "./lance-threads.js";

export * from "@lancedb/lancedb";
