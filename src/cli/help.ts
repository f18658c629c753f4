import type { Command, OptionSpec } from "./command.js";
import { COMMON_OPTIONS } from "./parse.js";

const BIN = "retrieval-mcp";

function optionLines(options: Record<string, OptionSpec>): string[] {
  const flags = Object.entries(options).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : "    ";
    return [`  ${short}--${name}${spec.value ? ` ${spec.value}` : ""}`, spec.description] as const;
  });
  const width = Math.max(...flags.map(([flag]) => flag.length)) + 2;
  return flags.map(([flag, description]) => `${flag.padEnd(width)}${description}`);
}

export function commandHelp(command: Command): string {
  const lines = [
    `Usage: ${BIN} ${command.name}${command.args ? ` ${command.args}` : ""} [options]`,
    "",
    command.summary,
    "",
    "Options:",
    ...optionLines({ ...command.options, ...COMMON_OPTIONS }),
  ];
  if (command.details) lines.push("", command.details);
  return lines.join("\n") + "\n";
}

export function generalHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `Usage: ${BIN} [command] [options]`,
    "",
    "An MCP server for durable, crash-safe retrieval: agents index text chunks, search them by",
    "meaning, delete them and watch embedding progress. Without a command it runs `serve`.",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Common options:",
    ...optionLines(COMMON_OPTIONS),
    "",
    `Run \`${BIN} <command> --help\` for a command's options.`,
    "Exit codes: 0 ok, 1 runtime error, 2 usage error.",
  ].join("\n") + "\n";
}
