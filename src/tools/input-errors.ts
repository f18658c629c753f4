import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { z } from "zod";
import { issueSentences } from "../text/issues.js";

interface ValidatingServer {
  validateToolInput(tool: { inputSchema?: z.ZodType }, args: unknown, toolName: string): Promise<unknown>;
}

/**
 * The SDK answers a failed input check with "MCP error -32602: Input
 * validation error: ... k must be at least 1 at k", one line per issue. An
 * agent acts on that text, so the same check runs first here and answers
 * with sentences that name each field ("Invalid arguments for
 * semantic_search: k must be at least 1."). The SDK (pinned) offers no hook
 * for its wording; test/tools-bad-input.test.ts fails if this stops applying.
 */
export function answerInputErrorsInSentences(server: McpServer): void {
  const target = server as unknown as ValidatingServer;
  const sdkCheck = target.validateToolInput.bind(server);
  target.validateToolInput = async (tool, args, toolName) => {
    if (tool.inputSchema) {
      const parsed = await tool.inputSchema.safeParseAsync(args ?? {});
      // A plain Error becomes the tool's error text as it is, without the JSON-RPC code in front.
      if (!parsed.success) throw new Error(`Invalid arguments for ${toolName}: ${issueSentences(parsed.error)}`);
    }
    return sdkCheck(tool, args, toolName);
  };
}
