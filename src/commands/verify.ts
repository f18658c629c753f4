import type { Command } from "../cli/command.js";
import { StoreError } from "../store/errors.js";
import type { VerifyReport } from "../store/store.js";
import { withExistingStore, withStore } from "./open-store.js";

const EXPLANATIONS: Record<string, string> = {
  orphan_or_stale_lance_rows: "Lance rows with no live committed record, or left over from an older write (search ignores them; repair deletes them)",
  duplicate_lance_rows: "committed chunks with more than one Lance row (repair re-writes them)",
  committed_without_vector: "committed chunks whose vector is missing from Lance (repair re-embeds them)",
  pending_records: "records whose write never finished (repair embeds and commits them)",
  tombstones_awaiting_gc: "deleted chunks whose vectors GC has not removed yet (repair runs GC)",
  superseded_rows_awaiting_gc: "chunks whose replaced versions still have Lance rows, never served (repair runs GC)",
};

export function renderVerify(report: VerifyReport, heading: string): string {
  const lines = [`${heading} ${report.checked.records} records and ${report.checked.lance_rows} Lance rows.`];
  if (report.problems.length === 0) lines.push("  No problems found.");
  for (const p of report.problems) {
    lines.push(`  ${p.kind}: ${p.count} — ${EXPLANATIONS[p.kind] ?? p.kind}`);
    if (p.sample.length > 0) lines.push(`    e.g. ${p.sample.join(", ")}`);
  }
  return lines.join("\n");
}

export const verifyCommand: Command = {
  name: "verify",
  summary: "Check the store's invariants (SQLite against Lance) and, with --repair, fix what is wrong.",
  args: "",
  minArgs: 0,
  maxArgs: 0,
  options: { repair: { type: "boolean", description: "Repair: finish pending writes, delete orphan rows, re-write missing vectors, run GC." } },
  details: "Exit code 0 when the store is consistent, 1 when problems remain.",
  async run(context) {
    const repair = context.values.repair === true;
    // --repair may create what is missing; a plain check only reads.
    const output = await (repair ? withStore : withExistingStore)(context, async (store) => {
      // A broken Lance manifest makes the check itself fail; --repair is the way out of exactly that.
      const found = await store.verify().catch((error: unknown) => {
        if (repair && error instanceof StoreError && error.code === "lance_corrupt") return null;
        throw error;
      });
      if (!repair || found?.ok) return { found, after: null };
      return { found, after: await store.verify({ repair: true }) };
    });
    const lines = [output.found ? renderVerify(output.found, "Checked") : "The vector table could not be opened (a broken manifest); repairing it."];
    if (output.after) lines.push(renderVerify(output.after, "After repair, checked"));
    else if (output.found && !output.found.ok) lines.push("Run `retrieval-mcp verify --repair` to fix these.");
    process.stdout.write(lines.join("\n") + "\n");
    return (output.after ?? output.found)?.ok ? 0 : 1;
  },
};
