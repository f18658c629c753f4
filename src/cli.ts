#!/usr/bin/env node
import type { Command } from "./cli/command.js";
import { UsageError } from "./cli/command.js";
import { commandHelp, generalHelp } from "./cli/help.js";
import { parseInvocation } from "./cli/parse.js";
import { gcCommand } from "./commands/gc.js";
import { ingestCommand } from "./commands/ingest.js";
import { migrateCommand } from "./commands/migrate.js";
import { reindexCommand } from "./commands/reindex.js";
import { searchCommand } from "./commands/search.js";
import { serveCommand } from "./commands/serve.js";
import { statusCommand } from "./commands/status.js";
import { verifyCommand } from "./commands/verify.js";
import { errorMessage } from "./store/errors.js";
import { packageVersion } from "./version.js";

const COMMANDS: readonly Command[] = [serveCommand, statusCommand, searchCommand, ingestCommand, gcCommand, verifyCommand, reindexCommand, migrateCommand];

async function main(argv: readonly string[]): Promise<number> {
  try {
    const invocation = parseInvocation(argv, COMMANDS, process.env, packageVersion());
    switch (invocation.kind) {
      case "help":
        process.stdout.write(invocation.command ? commandHelp(invocation.command) : generalHelp(COMMANDS));
        return 0;
      case "version":
        process.stdout.write(`${packageVersion()}\n`);
        return 0;
      case "run":
        return await invocation.command.run(invocation.context);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`retrieval-mcp: ${error.message}\nRun \`retrieval-mcp ${error.command ? `${error.command} ` : ""}--help\` for usage.\n`);
      return 2;
    }
    // Store errors are written for people; a stack trace would bury the advice they carry.
    process.stderr.write(`retrieval-mcp: ${errorMessage(error)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
// A finished command must not hang on a lingering native handle; the grace period lets piped output drain first.
setTimeout(() => process.exit(), 1000).unref();
