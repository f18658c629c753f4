/**
 * Calls from the benchmark into its store process over the IPC channel of
 * `fork`: one request, one answer, matched by id. The store runs in its own
 * process so its RSS is its own, not inflated by the benchmark's reference
 * table and ground truth.
 */
import { fork, type ChildProcess } from "node:child_process";
import { SERVER_ALLOCATOR_ENV } from "../../src/commands/allocator.js";

/** An interface of operations, each taking one argument and answering with a promise; both ends are checked against it. */
export type Operations<A> = { [K in keyof A]: (arg: any) => Promise<unknown> };

interface Request {
  id: number;
  op: string;
  arg: unknown;
}

type Response = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** In the child: answers the parent's calls until the channel closes, then exits. */
export function serve<A extends Operations<A>>(api: A): void {
  const operations = api as Record<string, (arg: unknown) => Promise<unknown>>;
  process.on("message", (message: Request) => {
    void (async () => {
      let response: Response;
      try {
        response = { id: message.id, ok: true, value: await operations[message.op]!(message.arg) };
      } catch (error) {
        response = { id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
      }
      process.send!(response);
    })();
  });
  // The benchmark died or is done: nothing is left to answer.
  process.on("disconnect", () => process.exit(0));
}

/** In the parent: the child process and typed calls into it. */
export class Remote<A extends Operations<A>> {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private exit: string | null = null;

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (response: Response) => {
      const call = this.waiting.get(response.id);
      if (!call) return;
      this.waiting.delete(response.id);
      if (response.ok) call.resolve(response.value);
      else call.reject(new Error(`in the store process: ${response.error}`));
    });
    child.on("exit", (code, signal) => {
      this.exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
      for (const call of this.waiting.values()) call.reject(new Error(`the store process ${this.exit}`));
      this.waiting.clear();
    });
  }

  /**
   * Starts `file` through the same TypeScript loader as this process,
   * sharing stderr for its progress lines, with the allocator setting
   * `serve --transport http` runs with: its RSS is the server's.
   */
  static start<A extends Operations<A>>(file: string): Remote<A> {
    return new Remote<A>(fork(file, [], { execArgv: process.execArgv, env: { ...process.env, ...SERVER_ALLOCATOR_ENV }, stdio: ["ignore", "inherit", "inherit", "ipc"] }));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  call<K extends keyof A & string>(op: K, arg: Parameters<A[K]>[0]): ReturnType<A[K]> {
    if (this.exit) return Promise.reject(new Error(`the store process ${this.exit}`)) as ReturnType<A[K]>;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ id, op, arg } satisfies Request);
    }) as ReturnType<A[K]>;
  }

  /** Closes the channel (the child exits) and, if it has not gone within `graceMs`, kills it. */
  async stop(graceMs: number): Promise<void> {
    if (this.exit) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
