import type { TestProject } from "vitest/node";
import { INSTALL_HINT, startPostgresCluster, type PostgresCluster } from "../helpers/postgres.js";

/** What the PostgreSQL tests of this run use: a superuser URL, why there is none, or that the run leaves them out. */
export type PostgresForTests = { url: string } | { error: string } | { off: true };

declare module "vitest" {
  export interface ProvidedContext {
    postgres: PostgresForTests;
  }
}

/**
 * One private cluster for the whole run (about a second to start), each
 * test file in a database of its own. RETRIEVAL_MCP_TEST_DATABASE_URL uses
 * a server already running instead; RETRIEVAL_MCP_TEST_POSTGRES=off leaves
 * the PostgreSQL variants out (the README says so). Without either, a
 * machine lacking PostgreSQL fails those tests with how to install it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let cluster: PostgresCluster | null = null;
  if (process.env.RETRIEVAL_MCP_TEST_POSTGRES === "off") {
    project.provide("postgres", { off: true });
  } else if (process.env.RETRIEVAL_MCP_TEST_DATABASE_URL) {
    project.provide("postgres", { url: process.env.RETRIEVAL_MCP_TEST_DATABASE_URL });
  } else {
    try {
      cluster = await startPostgresCluster();
      project.provide("postgres", { url: cluster.url });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      project.provide("postgres", { error: message.includes(INSTALL_HINT) ? message : `${message}. ${INSTALL_HINT}` });
    }
  }
  return async () => {
    await cluster?.stop();
  };
}
