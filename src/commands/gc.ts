import type { Command } from "../cli/command.js";
import { count } from "../text/plural.js";
import { withExistingStore } from "./open-store.js";

export const gcCommand: Command = {
  name: "gc",
  summary: "Remove the vectors of deleted chunks from Lance, then their tombstones, and compact the vector table.",
  args: "",
  minArgs: 0,
  maxArgs: 0,
  options: {},
  details: "A running server does this by itself every 30 seconds; run it by hand after large deletes or re-ingests.",
  async run(context) {
    const [gc, optimize] = await withExistingStore(context, async (store) => [await store.gc(), await store.optimize()] as const);
    process.stdout.write(`Removed ${count(Number(gc.removed ?? 0), "tombstoned chunk")} from the vector table (${gc.took_ms} ms); compacted it (${optimize.took_ms} ms).\n`);
    return 0;
  },
};
