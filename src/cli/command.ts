import type { SpecOptions } from "../embed/from-spec.js";
import type { VectorsOptions } from "../store/vectors-location.js";

export interface OptionSpec {
  type: "string" | "boolean";
  /** The flag may be given several times; its value is then the list of them. */
  multiple?: boolean;
  short?: string;
  /** Shown in help after the flag, e.g. `<dir>`. */
  value?: string;
  description: string;
}

/** What every command receives once its arguments are parsed and validated. */
export interface CommandContext {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  dataDir: string;
  /** `--vectors` and `--s3-endpoint`: where the Lance tables live when not in the data directory. */
  storage: VectorsOptions;
  /** `--embedder`; `auto` defers to the model an existing store is bound to. */
  embedderSpec: string;
  embedderOptions: SpecOptions;
  env: NodeJS.ProcessEnv;
  version: string;
}

export interface Command {
  name: string;
  summary: string;
  /** Positional arguments as shown in the usage line, e.g. `<query>`. */
  args: string;
  /** Fewest positionals accepted; more than `maxArgs` is a usage error. */
  minArgs: number;
  maxArgs: number;
  options: Record<string, OptionSpec>;
  /** Lines after the option list: examples, environment, notes. */
  details?: string;
  /** Resolves to the process exit code. */
  run(context: CommandContext): Promise<number>;
}

/** Wrong flags, values or arguments: exit code 2, with a pointer to `--help`. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}
