import { existsSync } from "node:fs";
import type { Command } from "../cli/command.js";
import { stringValue } from "../cli/parse.js";
import { ProgressBar } from "../cli/progress.js";
import { findFiles } from "../ingest/files.js";
import { WALKED_EXTENSIONS } from "../ingest/formats.js";
import { dataPaths } from "../store/paths.js";
import { countSync, syncFiles, type SyncResult } from "../sync/sync.js";
import { withStore } from "./open-store.js";

export function summarize(result: SyncResult, problems: number, seconds: number): string {
  const c = countSync(result);
  const skipped = c.unchanged + c.skipped;
  return (
    `Files: ${c.indexed} indexed, ${skipped} skipped (${c.unchanged} unchanged), ${c.failed + problems} failed${result.pruned ? `, ${c.pruned} pruned` : ""}. ` +
    `Chunks: ${c.chunks_written} written, ${c.chunks_removed} removed. ${seconds.toFixed(1)} s.`
  );
}

export const ingestCommand: Command = {
  name: "ingest",
  summary: "Index documents, code, PDFs, Word and HTML files, or whole folders, as cited chunks; changed files are replaced, unchanged ones skipped.",
  args: "<files or folders...>",
  minArgs: 1,
  maxArgs: Number.POSITIVE_INFINITY,
  options: {
    collection: { type: "string", value: "<name>", description: "Collection to put the documents in (default \"default\")." },
    prune: {
      type: "boolean",
      description: "Also remove documents ingested from under these folders whose files were deleted. A folder that is missing, unreadable or empty removes nothing.",
    },
  },
  details: [
    `Folders are read recursively for text (${WALKED_EXTENSIONS.text.join(" ")}),`,
    `code (${WALKED_EXTENSIONS.code.join(" ")}),`,
    `and ${WALKED_EXTENSIONS.documents.join(" ")} files; hidden entries, node_modules and symbolic links are skipped,`,
    "and so are binary files. A file named explicitly is read as text whatever its extension. Each file is one document:",
    "doc_id is its absolute path, chunk ids are path#n, and each chunk's metadata cites its source, line_start/line_end",
    "(text, code) or page (PDF) and heading path. A changed file's old chunks are swapped for the new ones in one",
    "transaction (crash-safe); a file whose size and modification time, or else sha256, match its stored chunks is skipped.",
  ].join("\n"),
  async run(context) {
    const started = performance.now();
    const collection = stringValue(context.values, "collection");
    const prune = context.values.prune === true;
    const found = await findFiles(context.positionals);
    for (const path of found.missing) process.stderr.write(`retrieval-mcp: not found: ${path}\n`);
    for (const path of found.unreadable) process.stderr.write(`retrieval-mcp: cannot read: ${path}\n`);
    const bar = new ProgressBar(process.stderr, found.files.length, "files");
    let chunks = 0;
    // Nothing to read and nothing to prune means nothing to write: do not create a data directory for it.
    const needsStore = found.files.length > 0 || (prune && existsSync(dataPaths(context.dataDir).metadataDb));
    const empty: SyncResult = { outcomes: [], pruned: prune ? { removed: [], refused: [] } : null };
    const result = !needsStore
      ? empty
      : await withStore(context, async (store) => {
          try {
            const synced = await syncFiles(store, found, context.positionals, {
              prune,
              ...(collection === undefined ? {} : { collection }),
              onFile(outcome, done) {
                chunks += outcome.written;
                if (outcome.status === "failed" || (outcome.status === "skipped" && outcome.reason)) {
                  bar.clear();
                  process.stderr.write(`retrieval-mcp: ${outcome.status} ${outcome.path}: ${outcome.reason ?? ""}\n`);
                }
                bar.update(done, `${chunks} chunks written`);
              },
            });
            // A one-shot process has no background maintenance: fold the new rows into the indexes,
            // so the next search (perhaps another one-shot process) is served by them.
            if (chunks > 0) await store.optimize();
            return synced;
          } finally {
            bar.clear();
          }
        });
    for (const { root, reason } of result.pruned?.refused ?? []) process.stderr.write(`retrieval-mcp: not pruning under ${root}: ${reason}. Nothing there was removed.\n`);
    for (const { doc_id } of result.pruned?.removed ?? []) process.stderr.write(`retrieval-mcp: pruned ${doc_id} (file deleted)\n`);
    const problems = found.missing.length + found.unreadable.length;
    process.stdout.write(summarize(result, problems, (performance.now() - started) / 1000) + "\n");
    const failed = problems > 0 || result.outcomes.some((o) => o.status === "failed") || (result.pruned?.refused.length ?? 0) > 0;
    return failed ? 1 : 0;
  },
};
