import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { HashEmbedder } from "../../src/embed/hash.js";

export interface EmbeddingsRequest {
  model: string;
  input: string[];
  dimensions?: number;
  authorization: string | undefined;
  at: number;
}

/** What the server does with one request; `ok` embeds with the hashing embedder. */
export type Behaviour =
  | { kind: "ok" }
  | { kind: "status"; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: "slow"; ms: number }
  | { kind: "hang" };

/**
 * A real HTTP server on 127.0.0.1 speaking the OpenAI embeddings API, with a
 * queue of scripted behaviours (faults) consumed one per request; when the
 * queue is empty it answers normally. Vectors come from the hashing
 * embedder, so search results through it are meaningful.
 */
export class FakeEmbeddingsServer {
  readonly requests: EmbeddingsRequest[] = [];
  readonly script: Behaviour[] = [];
  model = "fake-embed";
  dimension = 48;
  private readonly server: Server;
  private readonly open = new Set<ServerResponse>();

  private constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(): Promise<FakeEmbeddingsServer> {
    const fake = new FakeEmbeddingsServer();
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    return fake;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.open.add(res);
    res.on("close", () => this.open.delete(res));
    let raw = "";
    for await (const chunk of req) raw += chunk;
    if (req.method !== "POST" || req.url !== "/v1/embeddings") return this.send(res, 404, { error: { message: `Cannot ${req.method} ${req.url}` } });
    const body = JSON.parse(raw) as { model: string; input: string | string[]; dimensions?: number };
    const input = Array.isArray(body.input) ? body.input : [body.input];
    this.requests.push({ model: body.model, input, dimensions: body.dimensions, authorization: req.headers.authorization, at: Date.now() });
    const behaviour = this.script.shift() ?? { kind: "ok" };
    switch (behaviour.kind) {
      case "status":
        return this.send(res, behaviour.status, behaviour.body, behaviour.headers);
      case "hang":
        return;
      case "slow":
        await new Promise((resolve) => setTimeout(resolve, behaviour.ms));
        break;
      case "ok":
        break;
    }
    if (body.model !== this.model) {
      return this.send(res, 404, { error: { message: `model "${body.model}" not found, try pulling it first`, type: "invalid_request_error" } });
    }
    const embedder = new HashEmbedder(body.dimensions ?? this.dimension);
    const vectors = await embedder.embed(input, { kind: "document" });
    // Unnormalised and out of order on purpose: clients must sort by index and normalise.
    const data = vectors.map((v, index) => ({ object: "embedding", index, embedding: Array.from(v, (x) => x * 3) })).reverse();
    this.send(res, 200, { object: "list", data, model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 } });
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.destroyed) return;
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }
}
