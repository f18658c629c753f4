import { parseArgs } from "node:util";
import { DEFAULT_EMBEDDER_SPEC, EmbedderSpecError, embedderFromSpec, type SpecOptions } from "../embed/from-spec.js";
import { DEFAULT_DTYPE, DTYPES, type Dtype } from "../embed/options.js";
import { logger } from "../log/logger.js";
import { StoreError } from "../store/errors.js";
import { dataPaths, defaultDataDir } from "../store/paths.js";
import { vectorsLocation, type VectorsOptions } from "../store/vectors-location.js";
import { UsageError, type Command, type CommandContext, type OptionSpec } from "./command.js";

/** Flags every command takes. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  "data-dir": {
    type: "string",
    value: "<dir>",
    description: "Data directory (metadata.db, lance/ unless --vectors says otherwise, lance.lock). Env: RETRIEVAL_MCP_DATA_DIR. Default: the per-user data folder.",
  },
  vectors: {
    type: "string",
    value: "<dir|s3://bucket/prefix>",
    description:
      "Where the vector (Lance) tables live: a directory, or an S3 prefix (credentials and region from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION). Env: RETRIEVAL_MCP_VECTORS. Default: lance/ in the data directory.",
  },
  "s3-endpoint": {
    type: "string",
    value: "<url>",
    description: "With s3:// vectors: an S3-compatible endpoint, e.g. http://127.0.0.1:9000 (plain http only to loopback, unless AWS_ALLOW_HTTP=true). Env: AWS_ENDPOINT_URL.",
  },
  embedder: {
    type: "string",
    value: "<spec>",
    description: `Embedding model, provider[:model], e.g. hash:384. Env: RETRIEVAL_MCP_EMBEDDER. Default: ${DEFAULT_EMBEDDER_SPEC}.`,
  },
  dtype: {
    type: "string",
    value: "<q8|fp16|fp32>",
    description: `Which ONNX variant of a transformers model to load: q8 (8-bit, about a quarter of the download), fp16 or fp32. Default: ${DEFAULT_DTYPE}.`,
  },
  "model-path": {
    type: "string",
    value: "<dir>",
    description: "Folder of pre-downloaded models laid out as <dir>/<org>/<name>/. Env: RETRIEVAL_MCP_MODEL_DIR.",
  },
  offline: { type: "boolean", description: "Never download a model. Env: RETRIEVAL_MCP_OFFLINE=1 or HF_HUB_OFFLINE=1." },
  help: { type: "boolean", short: "h", description: "Show help for the command and exit." },
  version: { type: "boolean", description: "Print the version and exit." },
};

export type Invocation =
  | { kind: "help"; command: Command | null }
  | { kind: "version" }
  | { kind: "run"; command: Command; context: CommandContext };

/** An empty variable counts as unset, as shells and config files often leave them. */
function fromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === "" ? undefined : value;
}

/**
 * Picks the command (the first argument unless it is a flag; `serve` when
 * there is none) and parses its flags strictly: unknown flags, missing
 * values and wrong argument counts are usage errors.
 */
export function parseInvocation(argv: readonly string[], commands: readonly Command[], env: NodeJS.ProcessEnv, version: string): Invocation {
  const at = commandIndex(argv, commands);
  const first = at === -1 ? undefined : argv[at];
  const named = first !== undefined && (first === "help" || commands.some((c) => c.name === first));
  if (named && first === "help") return { kind: "help", command: argv[at + 1] ? findCommand(commands, argv[at + 1]!) : null };
  const command = findCommand(commands, named ? first : "serve");
  const rest = named ? [...argv.slice(0, at), ...argv.slice(at + 1)] : argv;

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: toParseArgsOptions({ ...COMMON_OPTIONS, ...command.options }),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, ".") : String(error), command.name);
  }
  const values = parsed.values as CommandContext["values"];
  if (values.help) return { kind: "help", command: named ? command : null };
  if (values.version) return { kind: "version" };

  const positionals = parsed.positionals;
  if (positionals.length < command.minArgs) {
    throw new UsageError(`${command.name} needs ${command.args}.`, command.name);
  }
  if (positionals.length > command.maxArgs) {
    const extra = positionals.slice(command.maxArgs).map((p) => JSON.stringify(p)).join(", ");
    throw new UsageError(
      named ? `${command.name} does not take the argument${positionals.length - command.maxArgs > 1 ? "s" : ""} ${extra}.` : `Unknown command ${extra}.`,
      named ? command.name : undefined,
    );
  }

  const dataDir = stringValue(values, "data-dir") ?? fromEnv(env, "RETRIEVAL_MCP_DATA_DIR") ?? defaultDataDir(env);
  if (dataDir.trim() === "") throw new UsageError("--data-dir must not be empty.", command.name);
  const storage = storageOptions(values, env, dataDir, command.name);
  const embedderSpec = stringValue(values, "embedder") ?? fromEnv(env, "RETRIEVAL_MCP_EMBEDDER") ?? DEFAULT_EMBEDDER_SPEC;
  const modelPath = stringValue(values, "model-path");
  const dtype = stringValue(values, "dtype");
  if (dtype !== undefined && !isDtype(dtype)) throw new UsageError(`--dtype must be one of ${DTYPES.join(", ")}, got ${JSON.stringify(dtype)}.`, command.name);
  const embedderOptions: SpecOptions = {
    dataDir,
    env,
    log: logger.info,
    ...(modelPath === undefined ? {} : { modelPath }),
    ...(values.offline ? { offline: true } : {}),
    ...(dtype === undefined ? {} : { dtype }),
  };
  try {
    // Only checks the spec here; the embedder is built when the store opens, knowing the model it is bound to.
    embedderFromSpec(embedderSpec, embedderOptions);
  } catch (error) {
    if (error instanceof EmbedderSpecError) throw new UsageError(error.message, command.name);
    throw error;
  }
  return { kind: "run", command, context: { values, positionals, dataDir, storage, embedderSpec, embedderOptions, env, version } };
}

/** `--vectors` and `--s3-endpoint`, checked now so a mistyped URI is a usage error before anything opens. */
function storageOptions(values: CommandContext["values"], env: NodeJS.ProcessEnv, dataDir: string, command: string): VectorsOptions {
  const vectors = stringValue(values, "vectors") ?? fromEnv(env, "RETRIEVAL_MCP_VECTORS");
  const s3Endpoint = stringValue(values, "s3-endpoint");
  const storage = { ...(vectors === undefined ? {} : { vectors }), ...(s3Endpoint === undefined ? {} : { s3Endpoint }) };
  try {
    vectorsLocation(storage, dataPaths(dataDir).lanceDir, env);
  } catch (error) {
    if (error instanceof StoreError) throw new UsageError(error.message, command);
    throw error;
  }
  return storage;
}

/**
 * Where the command word is: the first positional argument, read with every
 * command's flags so a flag's value is not taken for it
 * (`retrieval-mcp --data-dir X status`); -1 when there is none.
 */
function commandIndex(argv: readonly string[], commands: readonly Command[]): number {
  const every = Object.assign({}, COMMON_OPTIONS, ...commands.map((c) => c.options)) as Record<string, OptionSpec>;
  const { tokens } = parseArgs({ args: [...argv], options: toParseArgsOptions(every), allowPositionals: true, strict: false, tokens: true });
  const first = tokens.find((t) => t.kind === "positional" || t.kind === "option-terminator");
  return first?.kind === "positional" ? first.index : -1;
}

function isDtype(value: string): value is Dtype {
  return (DTYPES as readonly string[]).includes(value);
}

function findCommand(commands: readonly Command[], name: string): Command {
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UsageError(`Unknown command ${JSON.stringify(name)}. Commands: ${commands.map((c) => c.name).join(", ")}.`);
  return command;
}

function toParseArgsOptions(specs: Record<string, OptionSpec>): Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> {
  return Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [name, { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) }]),
  );
}

export function stringValue(values: CommandContext["values"], name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/** Every value of a repeatable flag, in the order given. */
export function stringList(values: CommandContext["values"], name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value : typeof value === "string" ? [value] : [];
}

/** A whole number within [min, max], or a usage error naming the flag. */
export function intOption(values: CommandContext["values"], name: string, min: number, max: number, fallback: number, command: string): number {
  const raw = stringValue(values, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}.`, command);
  }
  return n;
}
