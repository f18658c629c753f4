import type { LoggingLevel } from "@modelcontextprotocol/sdk/types.js";

export type LogLevel = LoggingLevel;

/** Where log lines go besides stderr: one per connected MCP session. */
export type LogSink = (level: LogLevel, message: string) => void;

/**
 * The server's one logger. Every line goes to stderr, never stdout (on
 * stdio, stdout carries only the protocol), and to every MCP session
 * attached to it as `notifications/message`, which each session filters by
 * the level its client set with `logging/setLevel`.
 */
export class Logger {
  private readonly sinks = new Set<LogSink>();

  constructor(private readonly write: (line: string) => void = (line) => process.stderr.write(line)) {}

  /**
   * With `only`, the line reaches that one session (and stderr): what
   * concerns one client's request stays with that client. Debug lines go to
   * sessions that asked for them, not to stderr, which operators read.
   */
  log(level: LogLevel, message: string, only?: LogSink): void {
    if (level !== "debug") this.write(`retrieval-mcp: ${message}\n`);
    for (const sink of only ? [only] : this.sinks) sink(level, message);
  }

  readonly debug = (message: string): void => this.log("debug", message);
  readonly info = (message: string): void => this.log("info", message);
  readonly warning = (message: string): void => this.log("warning", message);
  readonly error = (message: string): void => this.log("error", message);

  /** Adds a session; the returned function removes it. */
  attach(sink: LogSink): () => void {
    this.sinks.add(sink);
    return () => void this.sinks.delete(sink);
  }
}

/** The process's logger, shared by the CLI, the store, the embedders and every session. */
export const logger = new Logger();
