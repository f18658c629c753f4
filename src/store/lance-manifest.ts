import { existsSync, readdirSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { tableLocation, type VectorsLocation } from "./vectors-location.js";

/**
 * A power cut can leave the newest manifest empty; LanceDB then fails to
 * open the table with an unhelpful error. Check for it first and say how to
 * repair: drop the broken manifest so the table opens at the previous
 * version, then let recovery re-write what that version lacks. Local
 * directories only: an object store writes each object whole.
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

/** Why a table does not open and what to do, for a table in a directory or on object storage. */
export function corruptionMessage(location: VectorsLocation, name: string, detail: string): string {
  const where = tableLocation(location, name);
  if (location.kind === "s3") {
    // verify --repair sets manifests aside only on a local disk: renaming objects under a prefix other replicas read is not ours to do.
    return (
      `The vector table at ${where} cannot be opened (${detail}). On object storage every object is written whole, so a power loss does not leave a torn manifest: ` +
      `first check that the endpoint, bucket and credentials are the ones the store was written with and that they may read ${location.uri}. ` +
      `If the newest manifest under ${where}/_versions/ really is damaged, move it out of _versions/ with your object-store tools and run \`retrieval-mcp verify --repair\`: ` +
      `it re-writes every vector the previous version lacks from the metadata database, which holds the authoritative state.`
    );
  }
  return (
    `The vector table at ${where} cannot be opened (${detail}). This usually means a power loss or a full disk interrupted a write. ` +
    `Run \`retrieval-mcp verify --repair --data-dir <dir>\`: it sets the broken newest manifest aside (the table falls back to its previous version) ` +
    `and re-writes every vector that version lacks from the metadata database. Nothing acknowledged is lost: SQLite holds the authoritative state.`
  );
}
