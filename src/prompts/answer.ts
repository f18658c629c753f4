import { completable } from "@modelcontextprotocol/sdk/server/completable.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { GetPromptResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { completeCollections } from "../resources/collections.js";
import { DEFAULT_SNIPPET_CHARS, searchAllowed } from "../tools/semantic-search.js";
import type { ToolContext } from "../tools/context.js";
import { fields } from "../tools/fields.js";
import { count } from "../text/plural.js";

/** Passages put into the prompt: 6 of up to 2,000 characters stay near 12,000 characters, a modest share of any model's context. */
const PASSAGES = 6;

const INSTRUCTIONS =
  "Answer the question below using only the passages from the retrieval store that follow, each attached as a resource. " +
  "Cite every statement with the URI of the passage it comes from in square brackets, e.g. [chunk://docs/install.md%230]. " +
  "If the passages do not answer the question, say so rather than guess; you may call semantic_search to look further.";

/**
 * answer_from_store: searches the store for a question and hands the model
 * the best passages as embedded resources, with instructions to answer
 * from them alone and cite each claim by its chunk URI.
 */
export function registerAnswerPrompt(server: McpServer, context: ToolContext): void {
  server.registerPrompt(
    "answer_from_store",
    {
      title: "Answer from the store, with citations",
      description: `Searches the store for the question (hybrid, ${PASSAGES} passages) and asks for an answer drawn only from those passages, citing each by its chunk:// URI.`,
      argsSchema: {
        question: z.string().min(1, "question must not be empty").describe("The question to answer from the indexed chunks."),
        collection: completable(fields.collection.optional().describe("Search only this collection (default: all)."), (typed) => completeCollections(context, typed ?? "")),
      },
    },
    async ({ question, collection }): Promise<GetPromptResult> => {
      const store = await context.openStore();
      const found = await searchAllowed(context, store, {
        query: question,
        k: PASSAGES,
        mode: "hybrid",
        max_chars: DEFAULT_SNIPPET_CHARS,
        ...(collection === undefined ? {} : { collection }),
      });
      const scope = collection === undefined ? "the store" : `collection ${JSON.stringify(collection)}`;
      const header =
        found.results.length === 0
          ? `${INSTRUCTIONS}\n\nNo passage in ${scope} matched this question.\n\nQuestion: ${question}`
          : `${INSTRUCTIONS}\n\nQuestion: ${question}`;
      return {
        description: `${count(found.results.length, "passage")} from ${scope} for: ${question}`,
        messages: [
          { role: "user", content: { type: "text", text: header } },
          ...found.results.map((hit) => ({
            role: "user" as const,
            content: { type: "resource" as const, resource: { uri: hit.uri, mimeType: "text/plain", text: hit.text } },
          })),
        ],
      };
    },
  );
}
