import { once } from "node:events";
import { UsageError, type Command, type CommandContext } from "../cli/command.js";
import { intOption, stringList, stringValue } from "../cli/parse.js";
import { lazyStore } from "../lazy-store.js";
import { errorMessage } from "../store/errors.js";
import type { Store } from "../store/store.js";
import type { IngestActivity } from "../sync/activity.js";
import type { AllowedFolder } from "../sync/allowed-paths.js";
import { logToStderr, openStore } from "./open-store.js";

const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_PORT = 7700;
const HTTP_ONLY = ["host", "port", "token", "max-body", "max-sessions"] as const;

type HttpModule = typeof import("../transport/http.js");

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
}

function httpSettings(context: CommandContext, http: HttpModule): HttpSettings {
  const host = stringValue(context.values, "host") ?? DEFAULT_HOST;
  const port = intOption(context.values, "port", 0, 65535, DEFAULT_PORT, "serve");
  const rawMaxBody = stringValue(context.values, "max-body");
  const maxBodyBytes = rawMaxBody === undefined ? http.DEFAULT_MAX_BODY_BYTES : parseSize(rawMaxBody);
  if (maxBodyBytes === null) throw new UsageError(`--max-body must be a size in bytes such as 33554432 or 32m, got ${JSON.stringify(rawMaxBody)}.`, "serve");
  const envToken = context.env.RETRIEVAL_MCP_TOKEN;
  const token = stringValue(context.values, "token") ?? (envToken === "" ? undefined : envToken);
  if (token === undefined && !http.isLoopback(host)) {
    throw new UsageError(
      `Serving on ${host} makes the server reachable from other machines; set a bearer token with --token or RETRIEVAL_MCP_TOKEN, or bind to 127.0.0.1.`,
      "serve",
    );
  }
  const maxSessions = intOption(context.values, "max-sessions", 1, 100_000, http.DEFAULT_MAX_SESSIONS, "serve");
  return { host, port, token, maxBodyBytes, maxSessions };
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
        .then(({ watchFolders }) => watchFolders({ folders: watched, exclude: [context.dataDir], openStore, activity, log: logToStderr }))
        .catch((error: unknown) => {
          logToStderr(`watching ${watched.join(", ")} failed: ${errorMessage(error)}`);
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
    host: { type: "string", value: "<host>", description: `HTTP: interface to bind (default ${DEFAULT_HOST}). Anything but loopback needs a token.` },
    port: { type: "string", value: "<port>", description: `HTTP: port (default ${DEFAULT_PORT}; 0 picks a free one). The endpoint is /mcp.` },
    token: { type: "string", value: "<token>", description: "HTTP: bearer token clients must send (Authorization: Bearer <token>). Env: RETRIEVAL_MCP_TOKEN." },
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
    const ingest = await ingestSettings(context);
    if (http) {
      // A long-running server: keep Lance's large buffers from fragmenting the heap (see allocator.ts).
      const exitCode = await (await import("./allocator.js")).rerunWithMmapThreshold();
      if (exitCode !== null) return exitCode;
    }
    const { createServer } = await import("../server.js");
    const store = lazyStore(() => openStore(context));
    const newServer = () => createServer({ openStore: store.get, version: context.version, log: logToStderr, ...ingest.server });
    // The watcher starts beside the transport, never before it: its first pass may take a while.
    const watcher = ingest.startWatching(store.get);
    const close = async () => {
      await watcher.close();
      await store.close();
    };
    if (!httpModule || !http) {
      const { runStdio } = await import("../transport/stdio.js");
      await runStdio({ server: newServer(), onClose: close, log: logToStderr });
      return 0;
    }
    const running = await httpModule.startHttp({ ...http, createServer: newServer, log: logToStderr });
    logToStderr(`listening on ${running.url}${http.token ? " (bearer token required)" : ""}; data dir ${context.dataDir}`);
    const signal = await Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]);
    logToStderr(`stopping (${String(signal[0] ?? "signal")})`);
    await running.close();
    await close();
    return 0;
  },
};
