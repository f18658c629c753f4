import type { Command } from "../cli/command.js";
import { stringValue } from "../cli/parse.js";
import { findFiles } from "../ingest/files.js";
import { ingestFiles, type FileOutcome } from "../ingest/ingest.js";
import { ProgressBar } from "../cli/progress.js";
import { withStore } from "./open-store.js";

export function summarize(outcomes: readonly FileOutcome[], missing: number, seconds: number): string {
  const count = (status: FileOutcome["status"]) => outcomes.filter((o) => o.status === status).length;
  const written = outcomes.reduce((n, o) => n + o.written, 0);
  const removed = outcomes.reduce((n, o) => n + o.removed, 0);
  const skipped = count("unchanged") + count("skipped");
  return (
    `Files: ${count("indexed")} indexed, ${skipped} skipped (${count("unchanged")} unchanged), ${count("failed") + missing} failed. ` +
    `Chunks: ${written} written, ${removed} removed. ${seconds.toFixed(1)} s.`
  );
}

export const ingestCommand: Command = {
  name: "ingest",
  summary: "Index text and Markdown files, or whole folders, as overlapping chunks; changed files are replaced, unchanged ones skipped.",
  args: "<files or folders...>",
  minArgs: 1,
  maxArgs: Number.POSITIVE_INFINITY,
  options: {
    collection: { type: "string", value: "<name>", description: "Collection to put the documents in (default \"default\")." },
  },
  details: [
    "Folders are read recursively for .txt, .md, .markdown, .mdx, .rst, .adoc, .org, .tex and similar files;",
    "hidden entries and node_modules are skipped, and so are binary files. A file named explicitly is read",
    "whatever its extension. Each file is one document: doc_id is its absolute path, chunk ids are path#n.",
    "A changed file's old chunks are swapped for the new ones in one transaction (crash-safe); a file whose",
    "sha256 matches its stored chunks is skipped without embedding. Deleted files are not removed from the store.",
  ].join("\n"),
  async run(context) {
    const started = performance.now();
    const collection = stringValue(context.values, "collection");
    const { files, missing } = await findFiles(context.positionals);
    for (const path of missing) process.stderr.write(`retrieval-mcp: not found: ${path}\n`);
    const bar = new ProgressBar(process.stderr, files.length, "files");
    let chunks = 0;
    // Nothing to read means nothing to write: do not create a data directory for it.
    const outcomes = files.length === 0 ? [] : await withStore(context, async (store) => {
      try {
        const result = await ingestFiles(store, files, {
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
        // A one-shot process has no background maintenance: collect what replaced and removed chunks left,
        // and fold the new rows into the indexes, so the next search (perhaps another one-shot process) is served by them.
        if (result.some((o) => o.removed > 0 || o.written > 0)) {
          await store.gc();
          await store.optimize();
        }
        return result;
      } finally {
        bar.clear();
      }
    });
    process.stdout.write(summarize(outcomes, missing.length, (performance.now() - started) / 1000) + "\n");
    return missing.length > 0 || outcomes.some((o) => o.status === "failed") ? 1 : 0;
  },
};
