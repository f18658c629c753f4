import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { FULL_ACCESS, sameAccess, type Access } from "../auth/access.js";
import { exposureProblem, singleToken, type Authenticator } from "../auth/authenticator.js";
import { isLoopback } from "../net/loopback.js";

export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
export const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;
/**
 * Sessions open at once. An idle session (an MCP server and its transport)
 * costs about 66 KiB of RSS (1,000 of them added 66 MB), so 256 bound that
 * at ~17 MB: the cap is not for normal use but stops a client that
 * initializes in a loop without ending its sessions (they linger for the
 * 30-minute idle timeout) from growing the server without limit. 256 is 8x
 * the 32 concurrent clients bench:soak drives.
 */
export const DEFAULT_MAX_SESSIONS = 256;
/** Seconds a client refused for the session cap is told to wait: an ended or reaped session frees a slot at once. */
const SESSION_RETRY_AFTER_S = 5;
const ENDPOINT = "/mcp";

export interface HttpOptions {
  host: string;
  /** 0 picks a free port; the returned url says which. */
  port: number;
  /** Bearer token every request must carry (full access); shorthand for `auth: singleToken(token)`. */
  token?: string;
  /** Who may call, and with what access (a tokens file, OAuth). Credentials are required unless host is loopback. */
  auth?: Authenticator;
  /** Request bodies beyond this are refused with 413 (default 32 MiB: a full index_chunks batch fits). */
  maxBodyBytes?: number;
  /** Browser origins allowed besides loopback ones, e.g. "https://inspector.example". */
  allowedOrigins?: string[];
  /** A session without requests or open streams for this long is closed (default 30 min). */
  sessionIdleMs?: number;
  /** Sessions open at once; past it a new client gets 503 with Retry-After and existing sessions carry on. */
  maxSessions?: number;
  /**
   * No sessions: every POST gets a server and transport of its own, closed
   * with the response, so consecutive requests may go to different
   * replicas behind a load balancer. GET and DELETE (a session's stream and
   * end) are answered 405; the session cap does not apply.
   */
  stateless?: boolean;
  /** One MCP server per session (per request when stateless), for the access its credentials carry; all of them must share one store. */
  createServer: (access: Access) => McpServer;
  log?: (message: string) => void;
}

export interface HttpHandle {
  /** The MCP endpoint, e.g. http://127.0.0.1:3000/mcp. */
  url: string;
  /** Ends every session and stops listening; the caller then closes the store. */
  close(): Promise<void>;
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]";
}

/** Hostname of a Host header or an Origin, lower-cased, IPv6 in brackets; null when unparsable. */
function hostnameOf(value: string, withScheme: boolean): string | null {
  try {
    return new URL(withScheme ? value : `http://${value}`).hostname.toLowerCase();
  } catch {
    return null;
  }
}

function sendJsonError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  /** Fixed at initialize: every later request must come with the same credentials. */
  access: Access;
  /** Requests and SSE streams still open; a session is idle only when none are. */
  open: number;
  lastActive: number;
}

/**
 * Streamable HTTP on node:http: one MCP session per client (session ids,
 * DELETE ends one, idle ones are reaped), or none at all (`stateless`), with the checks a local server
 * needs against browsers and DNS rebinding: Host and Origin validation, and
 * authentication by a bearer token, a tokens file or OAuth (src/auth).
 */
export async function startHttp(options: HttpOptions): Promise<HttpHandle> {
  const log = options.log ?? (() => undefined);
  const { host, token } = options;
  const exposure = exposureProblem(isLoopback(host), { token, other: options.auth !== undefined });
  if (exposure) throw new Error(`Refusing to listen on ${host}: ${exposure}`);
  const auth = options.auth ?? (token ? singleToken(token) : null);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const idleMs = options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;
  const allowedOrigins = new Set(options.allowedOrigins ?? []);
  const boundName = hostnameOf(host.includes(":") && !host.startsWith("[") ? `[${host}]` : host, false);
  const sessions = new Map<string, Session>();
  const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
  /** Sessions being initialized: not in `sessions` yet, but holding a slot so concurrent initializes cannot overshoot the cap. */
  let starting = 0;

  /** DNS rebinding: a page on evil.example that resolves to 127.0.0.1 still sends Host: evil.example. */
  function hostAllowed(header: string | undefined): boolean {
    // Bound to every interface, any name may reach us legitimately; the token (mandatory there) is the guard.
    if (isWildcard(host)) return true;
    const name = header ? hostnameOf(header, false) : null;
    return name !== null && (isLoopback(name) || name === boundName);
  }

  function originAllowed(origin: string | undefined): boolean {
    // Non-browser clients send no Origin; browsers always do.
    if (origin === undefined) return true;
    if (allowedOrigins.has(origin)) return true;
    const name = hostnameOf(origin, true);
    return name !== null && (isLoopback(name) || (!isWildcard(host) && name === boundName));
  }

  function track(session: Session, res: ServerResponse): void {
    session.open++;
    session.lastActive = Date.now();
    res.once("close", () => {
      session.open--;
      session.lastActive = Date.now();
    });
  }

  async function newSession(req: IncomingMessage, res: ServerResponse, access: Access): Promise<void> {
    if (sessions.size + starting >= maxSessions) {
      return sendJsonError(res, 503, `Too many sessions: this server serves at most ${maxSessions} at once (--max-sessions). Retry in ${SESSION_RETRY_AFTER_S} s, or end unused sessions with DELETE.`, {
        "retry-after": String(SESSION_RETRY_AFTER_S),
      });
    }
    starting++;
    try {
      await startSession(req, res, access);
    } finally {
      starting--;
    }
  }

  async function startSession(req: IncomingMessage, res: ServerResponse, access: Access): Promise<void> {
    const server = options.createServer(access);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      maxRequestBodySize: maxBodyBytes,
      onsessioninitialized: (id) => void sessions.set(id, session),
    });
    const session: Session = { server, transport, access, open: 0, lastActive: Date.now() };
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id !== undefined && sessions.get(id) === session) sessions.delete(id);
      void server.close().catch(() => undefined);
    };
    await server.connect(transport);
    track(session, res);
    await transport.handleRequest(req, res);
    // Anything but an initialize request (answered 400 by the SDK) leaves no session behind.
    if (transport.sessionId === undefined) await transport.close();
  }

  /** A request with no session around it: the client is told nothing between requests (no stream to send it on). */
  async function statelessRequest(req: IncomingMessage, res: ServerResponse, access: Access): Promise<void> {
    if (req.method !== "POST") {
      return sendJsonError(res, 405, "Method not allowed: this server is stateless (--stateless): it keeps no session to stream to or to end; send each request as a POST.", { allow: "POST" });
    }
    const server = options.createServer(access);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, maxRequestBodySize: maxBodyBytes });
    // The response may stream (progress notifications) past handleRequest's return; the server lives until it is done.
    res.once("close", () => void server.close().catch(() => undefined));
    await server.connect(transport);
    await transport.handleRequest(req, res);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostAllowed(req.headers.host)) return sendJsonError(res, 403, `Forbidden: Host ${JSON.stringify(req.headers.host ?? "")} is not this server; connect to ${boundName}.`);
    if (!originAllowed(req.headers.origin)) return sendJsonError(res, 403, `Forbidden: requests from origin ${req.headers.origin} are not allowed.`);
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const document = req.method === "GET" ? auth?.publicDocument?.(path, req) : null;
    if (document) return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(document));
    const outcome = auth ? await auth.authenticate(req) : { ok: true as const, access: FULL_ACCESS };
    if (!outcome.ok) return sendJsonError(res, outcome.status, outcome.message, { "www-authenticate": outcome.challenge });
    if (path !== ENDPOINT) return sendJsonError(res, 404, `Not found: the MCP endpoint is ${ENDPOINT}.`);
    const declared = Number(req.headers["content-length"] ?? 0);
    // Refused before reading; the SDK enforces the same limit on bodies streamed without a length.
    if (declared > maxBodyBytes) {
      res.once("finish", () => req.destroy());
      return sendJsonError(res, 413, `Request body of ${declared} bytes exceeds the limit of ${maxBodyBytes}; send fewer chunks per call.`, { connection: "close" });
    }

    if (options.stateless) return statelessRequest(req, res, outcome.access);
    const sessionId = req.headers["mcp-session-id"];
    if (typeof sessionId === "string") {
      const session = sessions.get(sessionId);
      if (!session) return sendJsonError(res, 404, "Session not found (it ended or expired); initialize a new session.");
      if (!sameAccess(session.access, outcome.access)) return sendJsonError(res, 403, "Forbidden: this session was opened with other credentials; initialize a new session.");
      track(session, res);
      return session.transport.handleRequest(req, res);
    }
    if (req.method === "POST") return newSession(req, res, outcome.access);
    return sendJsonError(res, 400, "Bad Request: send an initialize POST first, then the Mcp-Session-Id header it returns.");
  }

  const httpServer = createHttpServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      log(`HTTP request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      sendJsonError(res, 500, "Internal server error; see the server log.");
    });
  });

  const reaper = setInterval(
    () => {
      const cutoff = Date.now() - idleMs;
      for (const [id, session] of sessions) {
        if (session.open === 0 && session.lastActive < cutoff) {
          log(`closing idle session ${id}`);
          void session.transport.close();
        }
      }
    },
    Math.max(1_000, Math.min(60_000, idleMs / 4)),
  );
  reaper.unref();

  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(options.port, host, () => {
      httpServer.off("error", reject);
      resolve();
    });
  });
  const address = httpServer.address() as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}${ENDPOINT}`,
    async close() {
      clearInterval(reaper);
      await Promise.all([...sessions.values()].map((s) => s.transport.close()));
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}
