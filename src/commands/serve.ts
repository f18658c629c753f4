import { once } from "node:events";
import type { Access } from "../auth/access.js";
import { MIN_EXPOSED_TOKEN_CHARS, exposureProblem, singleToken, type Authenticator } from "../auth/authenticator.js";
import { UsageError, type Command, type CommandContext } from "../cli/command.js";
import { intOption, stringList, stringValue } from "../cli/parse.js";
import { lazyStore } from "../lazy-store.js";
import { logger } from "../log/logger.js";
import { isLoopback } from "../net/loopback.js";
import { errorMessage } from "../store/errors.js";
import type { Store } from "../store/store.js";
import type { IngestActivity } from "../sync/activity.js";
import type { AllowedFolder } from "../sync/allowed-paths.js";
import { RERANKER_OPTION, openStore, rerankerOption } from "./open-store.js";

const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_PORT = 7700;
const HTTP_ONLY = ["host", "port", "token", "tokens-file", "oauth-issuer", "oauth-audience", "max-body", "max-sessions", "stateless"] as const;

type HttpModule = typeof import("../transport/http.js");

const TERMINAL_HINT =
  "this is an MCP server: it speaks JSON-RPC on stdin/stdout and is now waiting for an MCP client, not for typed commands. " +
  "Connect a client instead, e.g. `claude mcp add retrieval -- retrieval-mcp` or `npx @modelcontextprotocol/inspector retrieval-mcp`; " +
  "`retrieval-mcp --help` lists the commands (search, status, ingest, ...). Ctrl-C stops it.";

/** `33554432`, `512k`, `32m`, `1g`: bytes, or KiB/MiB/GiB. */
export function parseSize(raw: string): number | null {
  const match = /^(\d+)\s*([kmg])?i?b?$/i.exec(raw.trim());
  if (!match) return null;
  const scale = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] ?? "").toLowerCase() as "k" | "m" | "g"] ?? 1;
  const bytes = Number(match[1]) * scale;
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}

interface HttpSettings {
  host: string;
  port: number;
  token: string | undefined;
  maxBodyBytes: number;
  maxSessions: number;
  stateless: boolean;
}

/** Exactly one way to authenticate: a shared token, a tokens file, or OAuth. */
async function httpAuth(context: CommandContext, token: string | undefined): Promise<Authenticator | undefined> {
  const tokensFile = stringValue(context.values, "tokens-file");
  const issuer = stringValue(context.values, "oauth-issuer");
  const audience = stringValue(context.values, "oauth-audience");
  const chosen = [token !== undefined && "--token", tokensFile !== undefined && "--tokens-file", issuer !== undefined && "--oauth-issuer"].filter(Boolean);
  if (chosen.length > 1) throw new UsageError(`${chosen.join(" and ")} are alternatives; give one of them.`, "serve");
  if ((issuer === undefined) !== (audience === undefined)) throw new UsageError("--oauth-issuer and --oauth-audience go together: give both.", "serve");
  if (token !== undefined) return singleToken(token);
  if (tokensFile !== undefined) return (await import("../auth/tokens-file.js")).tokensFromFile(tokensFile);
  if (issuer !== undefined && audience !== undefined) {
    if (!URL.canParse(issuer)) throw new UsageError(`--oauth-issuer must be the issuer's URL, e.g. https://auth.example.com, got ${JSON.stringify(issuer)}.`, "serve");
    return (await import("../auth/oauth.js")).oauthResourceServer({ issuer, audience, endpoint: "/mcp" });
  }
  return undefined;
}

function httpSettings(context: CommandContext, http: HttpModule): HttpSettings {
  const host = stringValue(context.values, "host") ?? DEFAULT_HOST;
  const port = intOption(context.values, "port", 0, 65535, DEFAULT_PORT, "serve");
  const rawMaxBody = stringValue(context.values, "max-body");
  const maxBodyBytes = rawMaxBody === undefined ? http.DEFAULT_MAX_BODY_BYTES : parseSize(rawMaxBody);
  if (maxBodyBytes === null) throw new UsageError(`--max-body must be a size in bytes such as 33554432 or 32m, got ${JSON.stringify(rawMaxBody)}.`, "serve");
  const envToken = context.env.RETRIEVAL_MCP_TOKEN;
  const token = stringValue(context.values, "token") ?? (envToken === "" ? undefined : envToken);
  const other = ["tokens-file", "oauth-issuer"].some((name) => context.values[name] !== undefined);
  const exposure = exposureProblem(isLoopback(host), { token, other });
  if (exposure) throw new UsageError(`Cannot serve on ${host}: ${exposure}`, "serve");
  const maxSessions = intOption(context.values, "max-sessions", 1, 100_000, http.DEFAULT_MAX_SESSIONS, "serve");
  const stateless = context.values.stateless === true;
  if (stateless && context.values["max-sessions"] !== undefined) throw new UsageError("--max-sessions does not apply with --stateless: a stateless server keeps no sessions.", "serve");
  return { host, port, token, maxBodyBytes, maxSessions, stateless };
}

interface IngestSettings {
  server: { allowIngest?: AllowedFolder[]; activity?: IngestActivity };
  startWatching: (openStore: () => Promise<Store>) => { close: () => Promise<void> };
}

/** --allow-ingest and --watch: folders that must exist now, and the watcher over the latter. */
async function ingestSettings(context: CommandContext): Promise<IngestSettings> {
  const allow = stringList(context.values, "allow-ingest");
  const watch = stringList(context.values, "watch");
  const notWatching = { close: async () => undefined };
  if (allow.length === 0 && watch.length === 0) return { server: {}, startWatching: () => notWatching };
  const [{ IngestActivity }, { allowedFolders }] = await Promise.all([import("../sync/activity.js"), import("../sync/allowed-paths.js")]);
  const folders = async (flag: string, dirs: string[]) => allowedFolders(dirs).catch((error: Error) => {
    throw new UsageError(`--${flag}: ${error.message}.`, "serve");
  });
  const allowIngest = await folders("allow-ingest", allow);
  const watched = (await folders("watch", watch)).map((f) => f.path);
  const activity = new IngestActivity();
  return {
    server: { ...(allowIngest.length > 0 ? { allowIngest } : {}), activity },
    startWatching(openStore) {
      if (watched.length === 0) return notWatching;
      const starting = import("../sync/watch.js")
        .then(({ watchFolders }) => watchFolders({ folders: watched, exclude: [context.dataDir], openStore, activity, log: logger.warning }))
        .catch((error: unknown) => {
          logger.warning(`watching ${watched.join(", ")} failed: ${errorMessage(error)}`);
          return notWatching;
        });
      return { close: async () => (await starting).close() };
    },
  };
}

export const serveCommand: Command = {
  name: "serve",
  summary: "Run the MCP server (the default command): stdio for one client, or Streamable HTTP for many.",
  args: "",
  minArgs: 0,
  maxArgs: 0,
  options: {
    transport: { type: "string", value: "<stdio|http>", description: "Transport (default stdio). On stdio, stdout carries only JSON-RPC; logs go to stderr." },
    host: { type: "string", value: "<host>", description: `HTTP: interface to bind (default ${DEFAULT_HOST}). Anything but loopback needs credentials: --token, --tokens-file or --oauth-issuer.` },
    port: { type: "string", value: "<port>", description: `HTTP: port (default ${DEFAULT_PORT}; 0 picks a free one). The endpoint is /mcp.` },
    token: {
      type: "string",
      value: "<token>",
      description: `HTTP: bearer token clients must send (Authorization: Bearer <token>); at least ${MIN_EXPOSED_TOKEN_CHARS} characters beyond loopback. Env: RETRIEVAL_MCP_TOKEN.`,
    },
    "tokens-file": {
      type: "string",
      value: "<file>",
      description: 'HTTP: several tokens with their own scope, as {"tokens": [{"name", "sha256", "scope": "read"|"write", "collections"?}]}.',
    },
    "oauth-issuer": { type: "string", value: "<url>", description: "HTTP: accept OAuth access tokens (JWTs) from this issuer, checked against its JWKS; scopes retrieval:read, retrieval:write." },
    "oauth-audience": { type: "string", value: "<aud>", description: "HTTP, with --oauth-issuer: the audience (aud) tokens must be issued for, e.g. this server's URL." },
    reranker: RERANKER_OPTION,
    "max-body": { type: "string", value: "<size>", description: "HTTP: largest request body, in bytes or with k/m/g (default 32m); larger requests get 413." },
    watch: {
      type: "string",
      multiple: true,
      value: "<dir>",
      description: "Keep this folder indexed while serving (repeatable): new and changed files are ingested, deleted ones removed.",
    },
    "allow-ingest": {
      type: "string",
      multiple: true,
      value: "<dir>",
      description: "Offer the ingest_files tool, for files inside this folder only (repeatable).",
    },
    "max-sessions": { type: "string", value: "<n>", description: "HTTP: sessions open at once (default 256); past it a new client gets 503 with Retry-After." },
    stateless: {
      type: "boolean",
      description:
        "HTTP: keep no session state, so a load balancer may send each request to any replica. Clients then get no notifications between requests (log messages) and no Mcp-Session-Id.",
    },
  },
  details: [
    "The store opens on the first tool call, so initialize and tools/list answer at once. The server stops cleanly on stdin EOF (stdio), SIGINT or SIGTERM.",
    "With --watch, watched folders are ingested into the default collection as the ingest command does, then kept in step with the disk;",
    "embedding_status shows the progress. Without --allow-ingest, agents cannot make the server read files.",
  ].join("\n"),
  async run(context) {
    const transport = stringValue(context.values, "transport") ?? "stdio";
    if (transport !== "stdio" && transport !== "http") throw new UsageError(`--transport must be stdio or http, got ${JSON.stringify(transport)}.`, "serve");
    if (transport === "stdio") {
      const given = HTTP_ONLY.filter((name) => context.values[name] !== undefined);
      if (given.length > 0) throw new UsageError(`${given.map((n) => `--${n}`).join(", ")} only apply to --transport http.`, "serve");
    }
    // Each module loads only when needed: start-up time goes into every client's launch.
    const httpModule = transport === "http" ? await import("../transport/http.js") : null;
    const http = httpModule ? httpSettings(context, httpModule) : null;
    const auth = http ? await httpAuth(context, http.token) : undefined;
    const ingest = await ingestSettings(context);
    if (http) {
      // A long-running server: keep Lance's large buffers from fragmenting the heap (see allocator.ts).
      const exitCode = await (await import("./allocator.js")).rerunWithMmapThreshold();
      if (exitCode !== null) return exitCode;
    }
    const { createServer } = await import("../server.js");
    const reranker = await rerankerOption(context, "serve");
    const store = lazyStore(() => openStore(context, reranker));
    const newServer = (access?: Access) => createServer({ openStore: store.get, version: context.version, logger, ...(access ? { access } : {}), ...ingest.server });
    // The watcher starts beside the transport, never before it: its first pass may take a while.
    const watcher = ingest.startWatching(store.get);
    const close = async () => {
      await watcher.close();
      await store.close();
    };
    if (!httpModule || !http) {
      // Started by hand in a terminal, the server would otherwise just sit there looking hung.
      if (process.stdin.isTTY) logger.info(TERMINAL_HINT);
      const { runStdio } = await import("../transport/stdio.js");
      await runStdio({ server: newServer(), onClose: close, log: logger.info });
      return 0;
    }
    const running = await httpModule.startHttp({ ...http, ...(auth ? { auth } : {}), createServer: newServer, log: logger.info });
    logger.info(`listening on ${running.url}${auth ? ` (${auth.description})` : ""}${http.stateless ? ", stateless" : ""}; data dir ${context.dataDir}`);
    const signal = await Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]);
    logger.info(`stopping (${String(signal[0] ?? "signal")})`);
    await running.close();
    await close();
    return 0;
  },
};
