/** Keys of `store_settings` rows; values are JSON. */
export const SETTINGS = {
  /** EmbedderInfo of the model every vector in the active table was made with. */
  model: "model",
  /** Name of the active Lance table. */
  table: "lance_table",
  /** A re-embedding in progress: target model, new table, resume cursor. */
  reindex: "reindex",
  /** Tables replaced by a reindex, dropped by GC once no reader can still be on them. */
  retired: "retired_tables",
  lastGc: "last_gc",
  lastRecovery: "last_recovery",
  lastOptimize: "last_optimize",
} as const;

export const DEFAULT_TABLE = "chunks";
