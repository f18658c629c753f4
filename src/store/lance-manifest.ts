import { existsSync, readdirSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * A power cut can leave the newest manifest empty; LanceDB then fails to
 * open the table with an unhelpful error. Check for it first and say how to
 * repair: drop the broken manifest so the table opens at the previous
 * version, then let recovery re-write what that version lacks.
 */
export function findBrokenManifests(tableDir: string): string[] {
  const versions = join(tableDir, "_versions");
  if (!existsSync(versions)) return [];
  return readdirSync(versions)
    .filter((f) => f.endsWith(".manifest"))
    .map((f) => join(versions, f))
    .filter((path) => statSync(path).size === 0);
}

/**
 * Moves the newest manifest out of `_versions` (renamed, never deleted, so
 * nothing is destroyed) so the table opens at the version before it. Used
 * only after opening failed: an empty or unreadable newest manifest is what
 * an interrupted commit leaves. Returns where it went, or null if none is left.
 */
export function quarantineNewestManifest(tableDir: string): string | null {
  const versions = join(tableDir, "_versions");
  if (!existsSync(versions)) return null;
  // Manifest names are u64::MAX - version: the newest sorts first.
  const newest = readdirSync(versions)
    .filter((f) => f.endsWith(".manifest"))
    .sort()[0];
  if (!newest) return null;
  const path = join(versions, newest);
  const aside = `${path}.broken-${Date.now()}`;
  renameSync(path, aside);
  return aside;
}

export function corruptionMessage(tableDir: string, detail: string): string {
  return (
    `The vector table at ${tableDir} cannot be opened (${detail}). This usually means a power loss or a full disk interrupted a write. ` +
    `Run \`retrieval-mcp verify --repair --data-dir <dir>\`: it sets the broken newest manifest aside (the table falls back to its previous version) ` +
    `and re-writes every vector that version lacks from the metadata database. Nothing acknowledged is lost: SQLite holds the authoritative state.`
  );
}
