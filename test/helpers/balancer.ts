import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Forwarded {
  replica: number;
  method: string;
  /** The JSON-RPC method of a POST; "" for other requests. */
  rpc: string;
}

export interface Balancer {
  /** The balancer's MCP endpoint, http://127.0.0.1:<port>/mcp. */
  url: string;
  /** Every request forwarded so far, in order. */
  log: Forwarded[];
  close(): Promise<void>;
}

/**
 * A load balancer at its simplest: each request goes to the next replica in
 * turn, whatever came before, so consecutive requests of one client land on
 * different replicas. A replica that does not answer fails that request (the
 * client sees the connection drop), as behind a balancer without health checks.
 */
export async function roundRobin(targets: readonly string[]): Promise<Balancer> {
  const log: Forwarded[] = [];
  let next = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const replica = next++ % targets.length;
      const target = new URL(targets[replica]!);
      let rpc = "";
      try {
        rpc = (JSON.parse(body.toString()) as { method?: string }).method ?? "";
      } catch {
        // Not JSON (a GET has no body): recorded without a method.
      }
      log.push({ replica, method: req.method ?? "", rpc });
      const out = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      out.on("error", () => res.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    log,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
