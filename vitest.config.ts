import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // A private PostgreSQL cluster for the tests that run the store over PostgreSQL (test/helpers/backends.ts).
    globalSetup: ["test/setup/postgres.ts"],
    // Lance and SQLite work on real files; crash tests spawn processes. Generous
    // timeouts keep a loaded 2-core CI machine from failing tests on speed alone.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
