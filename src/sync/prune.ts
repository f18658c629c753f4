import { lstat, readdir, stat } from "node:fs/promises";
import { resolve, sep } from "node:path";
import type { Store } from "../store/store.js";

export interface PruneReport {
  /** Documents removed because their files are gone, with how many chunks each had. */
  removed: { doc_id: string; chunks: number }[];
  /** Roots under which nothing was removed, and why: there was no evidence that their files are gone. */
  refused: { root: string; reason: string }[];
}

export interface PruneOptions {
  collection: string;
  /** Only these paths (files or folders) under the roots; default: everything under them. */
  within?: readonly string[];
}

/**
 * Removes the stored documents that were ingested from files under
 * `roots` and whose files no longer exist. It acts only with evidence: a
 * root that is missing, unreadable, or an empty folder while documents
 * were ingested from it (an unmounted disk, a network share that is down)
 * removes nothing and is reported in `refused`. A file counts as gone only
 * when looking it up says it does not exist; any other error (no
 * permission) keeps it. Only documents that ingest wrote (their first
 * chunk carries the file's sha256) are candidates.
 */
export async function pruneDeleted(store: Store, roots: readonly string[], options: PruneOptions): Promise<PruneReport> {
  const report: PruneReport = { removed: [], refused: [] };
  for (const root of roots.map((r) => resolve(r))) {
    const info = await stat(root).catch((error: NodeJS.ErrnoException) => error);
    if (info instanceof Error) {
      report.refused.push({ root, reason: info.code === "ENOENT" ? "it does not exist (an unmounted disk?)" : `it cannot be read (${info.code ?? info.message})` });
      continue;
    }
    // A file given as a root was just ingested; there is nothing under it to prune.
    if (!info.isDirectory()) continue;
    const candidates = await documentsUnder(store, root, options);
    if (candidates.length === 0) continue;
    const entries = await readdir(root).catch((error: NodeJS.ErrnoException) => error);
    if (entries instanceof Error) {
      report.refused.push({ root, reason: `it cannot be listed (${entries.code ?? entries.message})` });
      continue;
    }
    if (entries.length === 0) {
      report.refused.push({ root, reason: "it is empty while documents were ingested from it (an unmounted disk?); prune from its parent folder if its files were really deleted" });
      continue;
    }
    for (const docId of candidates) {
      if (!(await wasIngested(store, docId)) || !(await isGone(docId))) continue;
      const deleted = await store.delete({ doc_id: docId, collection: options.collection });
      if (deleted.deleted > 0) report.removed.push({ doc_id: docId, chunks: deleted.deleted });
    }
  }
  return report;
}

async function documentsUnder(store: Store, root: string, options: PruneOptions): Promise<string[]> {
  const folder = root.endsWith(sep) ? root : root + sep;
  const scopes = options.within?.map((p) => resolve(p)).filter((p) => p.startsWith(folder)) ?? [folder];
  const ids = new Set<string>();
  for (const scope of scopes) {
    for (const id of await store.documentIds(options.collection, scope)) {
      // A scope that is a file also matches its namesakes (`a.md` and `a.md.bak`); a folder scope ends in a separator.
      if (scope.endsWith(sep) || id === scope || id.startsWith(scope + sep)) ids.add(id);
    }
  }
  return [...ids];
}

async function wasIngested(store: Store, docId: string): Promise<boolean> {
  const [first] = await store.get([`${docId}#0`]);
  return typeof first?.metadata.sha256 === "string";
}

async function isGone(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return false;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR";
  }
}
