import { createHash } from "node:crypto";
import type pg from "pg";
import { TurnQueue, type CommitLock } from "../commit-lock.js";
import { errorMessage } from "../errors.js";
import { openSession } from "./connect.js";

/** What each advisory lock of a store serialises. */
export type LockPurpose = "migrate" | "write" | "commit" | "maintenance";

export type LockKeys = Record<LockPurpose, string>;

/**
 * Advisory locks live in one namespace per database, shared by every
 * application on it. A store's keys are derived from its database and
 * schema, so two stores in one database (each in its own schema, through
 * search_path) never wait on, or lead maintenance for, each other. The
 * key is a signed 64-bit integer, pg_advisory_lock's bigint form.
 */
export function lockKeys(database: string, schema: string): LockKeys {
  const key = (purpose: LockPurpose) =>
    createHash("sha256").update(`retrieval-mcp\0${purpose}\0${database}\0${schema}`).digest().readBigInt64BE(0).toString();
  return { migrate: key("migrate"), write: key("write"), commit: key("commit"), maintenance: key("maintenance") };
}

/**
 * A connection that holds session-level advisory locks. PostgreSQL
 * releases them when the session ends, however it ends: the holder's
 * process killed (its socket closes), its host gone (the server's TCP
 * keepalive notices), or the connection cut. Once lost, the session is
 * replaced on next use; whatever it held is held no more.
 */
class LockSession {
  private client: Promise<pg.Client> | null = null;

  constructor(
    private readonly url: string,
    private readonly log: (message: string) => void,
    private readonly what: string,
  ) {}

  /** The live session, connecting a new one if there is none. */
  get(): Promise<pg.Client> {
    this.client ??= openSession(this.url, (error) => this.lost(error));
    this.client.catch(() => (this.client = null));
    return this.client;
  }

  /** Whether `client` is still the live session (a lost one was replaced or is gone). */
  async alive(client: pg.Client): Promise<boolean> {
    return this.client !== null && (await this.client.catch(() => null)) === client;
  }

  private lost(error: Error): void {
    this.log(`the PostgreSQL session holding the ${this.what} failed (${errorMessage(error)}); the lock is released and is taken again on a new session`);
    const gone = this.client;
    this.client = null;
    void gone?.then((c) => c.end()).catch(() => undefined);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    await (await client?.catch(() => null))?.end().catch(() => undefined);
  }
}

/**
 * Lance commits of every replica, on any host, take turns on a session
 * advisory lock (docs/ARCHITECTURE.md, "PostgreSQL and replicas"). The
 * wait happens in the server, on a connection of its own, so the event
 * loop keeps serving; commits of one process queue here first, so the
 * session never stacks its own locks.
 */
export class AdvisoryCommitLock implements CommitLock {
  private readonly turns = new TurnQueue();
  private readonly session: LockSession;

  constructor(
    url: string,
    private readonly key: string,
    log: (message: string) => void,
  ) {
    this.session = new LockSession(url, log, "commit lock");
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    return this.turns.run(async () => {
      const client = await this.session.get();
      await client.query("SELECT pg_advisory_lock($1)", [this.key]);
      try {
        return await work();
      } finally {
        // A session lost meanwhile took its lock with it; a live one gives it back.
        if (await this.session.alive(client)) await client.query("SELECT pg_advisory_unlock($1)", [this.key]).catch(() => undefined);
      }
    });
  }

  async close(): Promise<void> {
    await this.turns.idle();
    await this.session.close();
  }
}

/**
 * The maintenance leader: the replica holding this lock runs the timed
 * maintenance rounds (GC, recovery, compaction, index builds); the others
 * skip theirs and only serve. A replica takes it when it is free and keeps
 * it for as long as its session lives, so one replica dying hands
 * maintenance to whichever other asks next.
 */
export class MaintenanceLease {
  private holder: pg.Client | null = null;
  private readonly session: LockSession;

  constructor(
    url: string,
    private readonly key: string,
    log: (message: string) => void,
  ) {
    this.session = new LockSession(url, log, "maintenance lock");
  }

  private asking: Promise<boolean> | null = null;

  /** Whether this replica leads maintenance now, taking the lead if no live replica holds it. */
  leads(): Promise<boolean> {
    // Each maintenance timer asks when it fires, sometimes at once; the
    // lock's one client runs one query at a time (pg deprecates queueing).
    this.asking ??= this.ask().finally(() => (this.asking = null));
    return this.asking;
  }

  private async ask(): Promise<boolean> {
    if (this.holder && (await this.session.alive(this.holder))) return true;
    this.holder = null;
    const client = await this.session.get();
    const { rows } = await client.query<{ taken: boolean }>("SELECT pg_try_advisory_lock($1) AS taken", [this.key]);
    if (rows[0]?.taken) this.holder = client;
    return this.holder !== null;
  }

  async close(): Promise<void> {
    this.holder = null;
    await this.session.close();
  }
}
