import type Database from "better-sqlite3";
import { lexicalBody } from "./lexical.js";

/**
 * SQL functions the schema depends on (the lexical-index triggers call
 * rmcp_lexical). Every connection that may write chunks registers them
 * before running migrations or statements.
 */
export function registerSqlFunctions(db: Database.Database): void {
  db.function("rmcp_lexical", { deterministic: true }, (text: unknown) => lexicalBody(String(text ?? "")));
}
