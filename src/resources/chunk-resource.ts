import { ResourceTemplate, type McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { canSee } from "../auth/access.js";
import type { ToolContext } from "../tools/context.js";
import { CHUNK_URI_TEMPLATE, decodeChunkUri } from "./chunk-uri.js";
import { completeCollections } from "./collections.js";

/** Answered with MCP's code for a resource that does not exist, -32002, and this message as it is. */
class ResourceNotFound extends Error {
  readonly code = -32002;
}

/**
 * chunk://{collection}/{chunk_id}: a stored chunk as a resource. The first
 * content is the chunk's text; the second, JSON, its metadata and embedding
 * state. Listing every chunk is left to semantic_search and get_chunk: a
 * store holds too many to list.
 */
export function registerChunkResource(server: McpServer, context: ToolContext): void {
  server.registerResource(
    "chunk",
    new ResourceTemplate(CHUNK_URI_TEMPLATE, { list: undefined, complete: { collection: (typed) => completeCollections(context, typed) } }),
    {
      title: "Indexed chunk",
      description: "A chunk of text in the store, with its metadata and embedding state. semantic_search returns these URIs with its hits.",
      mimeType: "text/plain",
    },
    async (uri, variables) => {
      const wanted = decodeChunkUri(variables);
      const store = await context.openStore();
      const [chunk] = wanted ? await store.get([wanted.chunkId]) : [];
      // A chunk outside the session's collections is as absent as one that never existed.
      if (!wanted || !chunk || chunk.collection !== wanted.collection || !canSee(context.access, chunk.collection)) {
        throw new ResourceNotFound(`No chunk at ${uri.href}: nothing with that chunk_id is stored in that collection (it may have been deleted).`);
      }
      const { text, ...about } = chunk;
      return {
        contents: [
          { uri: uri.href, mimeType: "text/plain", text },
          { uri: uri.href, mimeType: "application/json", text: JSON.stringify(about) },
        ],
      };
    },
  );
}
