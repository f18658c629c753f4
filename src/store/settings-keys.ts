/** Keys of `store_settings` rows; values are JSON. */
export const SETTINGS = {
  /** EmbedderInfo of the model every vector in the active table was made with. */
  model: "model",
  /** Name of the active Lance table. */
  table: "lance_table",
  /** A re-embedding in progress: target model, new table, resume cursor. */
  reindex: "reindex",
  /** A rebuild of a table written by 0.1.0 in progress: the new table's name, dropped if the rebuild was cut short. */
  upgrade: "lance_upgrade",
  /** Tables replaced by a reindex or a rebuild, dropped by GC once no reader can still be on them. */
  retired: "retired_tables",
  /** Prefix, per table: the row count its ANN index was trained on. */
  annTrainedRows: "ann_trained_rows",
  /** Prefix, per table: no generation above this was ever appended to it (append.ts). */
  appendMark: "append_mark",
  /** A copy of an embedded store into this one in progress (store-copy.ts): its source and resume cursor. */
  copy: "store_copy",
  /** Where the Lance tables are, recorded by the first replica of a PostgreSQL store: every other must use the same. */
  vectors: "vectors_location",
  lastGc: "last_gc",
  lastRecovery: "last_recovery",
  lastOptimize: "last_optimize",
} as const;

export const DEFAULT_TABLE = "chunks";
