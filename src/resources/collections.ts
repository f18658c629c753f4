import { canSee } from "../auth/access.js";
import type { ToolContext } from "../tools/context.js";

/** Completion answers hold at most 100 values (MCP's limit). */
const MAX_SUGGESTIONS = 100;

/** Collection names starting with what the user typed, among those the session may see. */
export async function completeCollections(context: ToolContext, typed: string): Promise<string[]> {
  const store = await context.openStore();
  const prefix = typed.toLowerCase();
  return (await store.collections(Number.MAX_SAFE_INTEGER))
    .filter((name) => canSee(context.access, name) && name.toLowerCase().startsWith(prefix))
    .slice(0, MAX_SUGGESTIONS);
}
