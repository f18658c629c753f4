import type Database from "better-sqlite3";
import { lexicalBody } from "./lexical.js";

/**
 * SQL functions the migrations depend on: V005 built an FTS5 index with
 * rmcp_lexical (V007 moved the keyword index to Lance, but a store older
 * than V005 still runs V005 on its way up). Every connection that may
 * migrate registers them first.
 */
export function registerSqlFunctions(db: Database.Database): void {
  db.function("rmcp_lexical", { deterministic: true }, (text: unknown) => lexicalBody(String(text ?? "")));
}
