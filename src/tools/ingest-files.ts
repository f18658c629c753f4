import { z } from "zod";
import { findFiles } from "../ingest/files.js";
import { WALKED_EXTENSIONS } from "../ingest/formats.js";
import type { AllowedFolder } from "../sync/allowed-paths.js";
import { confine } from "../sync/allowed-paths.js";
import { countSync, syncFiles } from "../sync/sync.js";
import { runTool, type RegisterTool } from "./context.js";
import { fields, ingestCountFields } from "./fields.js";
import { progressReporter } from "./progress.js";

/** Paths per call: folders count as one, so this bounds the arguments, not the files. */
const MAX_PATHS = 100;
/** Per-file results listed in the answer; the counts cover every file. */
const MAX_LISTED = 200;

const ingestInput = z.strictObject({
  paths: z
    .array(z.string())
    .min(1, "paths must list at least one file or folder")
    .max(MAX_PATHS, `paths takes at most ${MAX_PATHS} entries; name folders instead of their files, or split the call`)
    .describe(`Files or folders to index (1-${MAX_PATHS}), absolute or relative to an allowed folder. Folders are read recursively.`),
  collection: fields.collection.optional().describe('Collection to put the documents in (default "default").'),
  prune: z
    .boolean()
    .default(false)
    .describe("Also remove documents ingested from under the given folders whose files were deleted. A folder that is missing or empty removes nothing."),
});

const fileResult = z.object({
  path: z.string(),
  status: z.enum(["indexed", "skipped", "failed"]),
  chunks_written: z.number().int(),
  chunks_removed: z.number().int(),
  reason: z.string().optional(),
});

const ingestOutput = z.object({
  ...ingestCountFields,
  files: z.array(fileResult).describe(`Files indexed, skipped or failed (not the unchanged ones), at most ${MAX_LISTED}.`),
  not_found: z.array(z.string()).describe("Paths that do not exist, or could not be read."),
  pruned_documents: z.array(z.string()).describe(`doc_ids removed by prune, at most ${MAX_LISTED}.`),
  prune_refused: z.array(z.object({ root: z.string(), reason: z.string() })).describe("Folders under which prune removed nothing, and why."),
});

type IngestOutput = z.infer<typeof ingestOutput>;

function render(out: IngestOutput): string {
  const lines = [
    `${out.indexed} indexed, ${out.unchanged} unchanged, ${out.skipped} skipped, ${out.failed} failed${out.pruned > 0 ? `, ${out.pruned} pruned` : ""}; ` +
      `${out.chunks_written} chunks written, ${out.chunks_removed} removed.`,
  ];
  for (const f of out.files.filter((f) => f.status !== "indexed")) lines.push(`${f.status} ${f.path}: ${f.reason ?? ""}`);
  for (const path of out.not_found) lines.push(`not found: ${path}`);
  for (const r of out.prune_refused) lines.push(`not pruned under ${r.root}: ${r.reason}`);
  return lines.join("\n");
}

/**
 * `ingest_files`, registered only when the operator allowed folders with
 * --allow-ingest: agents may then index files from those folders and
 * nowhere else.
 */
export function registerIngestFiles(folders: readonly AllowedFolder[]): RegisterTool {
  const where = folders.map((f) => f.path).join(", ");
  return (server, context) => {
    server.registerTool(
      "ingest_files",
      {
        title: "Index files and folders from disk",
        description:
          `Indexes documents from the server's disk, inside ${where} only, like the ingest command: text and Markdown (${WALKED_EXTENSIONS.text.slice(0, 4).join(" ")} ...), ` +
          "source code, PDF, Word (.docx) and HTML, each file one document (doc_id = its absolute path) whose chunks cite source, lines or page, and heading. " +
          "Unchanged files are skipped cheaply, changed ones replaced atomically; with prune, documents of deleted files are removed. " +
          "Sends progress notifications per file when the request carries a progressToken; cancelling stops before the next file. Paths with .. or leading outside the allowed folders are refused.",
        inputSchema: ingestInput,
        outputSchema: ingestOutput,
        // Replacing a changed document and pruning a deleted one remove stored chunks.
        annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      },
      async ({ paths, collection, prune }, extra) => {
        const progress = progressReporter(extra, "files ingested");
        const result = await runTool(
          context,
          async (store): Promise<IngestOutput> => {
            const confined: string[] = [];
            for (const [i, path] of paths.entries()) confined.push(await confine(folders, path, `paths[${i}]`));
            const found = await findFiles(confined);
            const run = context.activity?.start("ingest_files", found.files.length);
            try {
              const synced = await syncFiles(store, found, confined, {
                prune,
                signal: extra.signal,
                ...(collection === undefined ? {} : { collection }),
                onFile(_outcome, done, total) {
                  run?.progress(done);
                  progress.onProgress?.(done, total);
                },
              });
              const counts = countSync(synced);
              run?.finish(counts);
              return {
                ...counts,
                files: synced.outcomes
                  .filter((o) => o.status !== "unchanged")
                  .slice(0, MAX_LISTED)
                  .map((o) => ({ path: o.path, status: o.status as "indexed" | "skipped" | "failed", chunks_written: o.written, chunks_removed: o.removed, ...(o.reason ? { reason: o.reason } : {}) })),
                not_found: [...found.missing, ...found.unreadable],
                pruned_documents: (synced.pruned?.removed ?? []).slice(0, MAX_LISTED).map((d) => d.doc_id),
                prune_refused: synced.pruned?.refused ?? [],
              };
            } catch (error) {
              run?.finish({ error });
              throw error;
            }
          },
          render,
        );
        // Notifications must reach the client before the response that ends the request.
        await progress.flush();
        return result;
      },
    );
  };
}
