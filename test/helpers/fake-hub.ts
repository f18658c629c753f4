import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/**
 * A real HTTP server laid out like the Hugging Face hub
 * (`/<org>/<name>/resolve/<revision>/<file>`), serving model folders from
 * `root`, so the download path runs without the internet. `hold()` makes
 * it accept requests and answer none (a network that hangs) until `release()`.
 */
export class FakeHub {
  readonly served: string[] = [];
  /** Requests received while held, answered or not. */
  readonly requested: string[] = [];
  private gate: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;
  private constructor(private readonly server: Server) {}

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open();
  }

  static async start(root: string): Promise<FakeHub> {
    let hub: FakeHub;
    const server = createServer(async (req, res) => {
      hub.requested.push(req.url ?? "");
      await hub.gate;
      const match = /^\/(.+?)\/resolve\/[^/]+\/(.+)$/.exec(decodeURIComponent(req.url ?? ""));
      const file = match && join(root, match[1]!, match[2]!);
      if (!file || !existsSync(file)) {
        res.writeHead(404, { "content-type": "text/plain" }).end("Entry not found");
        return;
      }
      hub.served.push(match[2]!);
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(statSync(file).size) });
      createReadStream(file).pipe(res);
    });
    hub = new FakeHub(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return hub;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
