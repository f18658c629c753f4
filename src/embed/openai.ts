import type { Embedder, EmbedderInfo, EmbedOptions } from "./embedder.js";
import { EmbedderError, throwIfAborted } from "./embedder.js";
import { applyPrefix, prefixesFor, type Prefixes } from "./prefixes.js";
import { toUnitVector } from "./vector.js";

export const DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1";

export interface OpenAIEmbedderOptions {
  /** Defaults to OPENAI_BASE_URL, then the OpenAI API. A bare origin gets `/v1` appended. */
  baseUrl?: string;
  /** Defaults to OPENAI_API_KEY; local servers (Ollama, vLLM, TEI, LM Studio) usually need none. */
  apiKey?: string;
  /** Ask the endpoint for shorter vectors (OpenAI text-embedding-3 models and others that support it). */
  dimensions?: number;
  /** Texts per request. */
  maxBatchSize?: number;
  /** Estimated tokens per request; servers reject or truncate oversized batches. */
  maxBatchTokens?: number;
  /** Per HTTP request, not per call. */
  requestTimeoutMs?: number;
  /** Retries after 429, 5xx, timeouts and dropped connections. */
  maxRetries?: number;
  /** First backoff delay; doubles with each retry when the server gives no Retry-After. */
  retryBaseMs?: number;
  /** Longest Retry-After we wait for; a longer one fails at once with the server's wish in the message. */
  maxRetryAfterMs?: number;
  env?: NodeJS.ProcessEnv;
}

const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504]);
const MAX_BACKOFF_MS = 20_000;

/** About four characters per token for English BPE vocabularies; errs high for safety with the 1.2 margin. */
export function estimateTokens(text: string): number {
  return Math.ceil((text.length / 4) * 1.2) + 1;
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Retry-After as seconds or an HTTP date; OpenAI also sends retry-after-ms. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | null {
  const ms = Number(headers.get("retry-after-ms"));
  if (headers.has("retry-after-ms") && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get("retry-after");
  if (value === null || value.trim() === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function normaliseBaseUrl(raw: string): string {
  const url = new URL(raw);
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/v1";
  return url.toString().replace(/\/+$/, "");
}

class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}

interface EmbeddingResponse {
  data?: { embedding?: unknown; index?: unknown }[];
}

/**
 * Any OpenAI-compatible `/v1/embeddings` endpoint. The vector dimension is
 * whatever the endpoint answers the first time (never a table of model
 * names); vectors are L2-normalised since not every server does it.
 *
 * `model` is the spec's model part, so a store bound to
 * `openai:text-embedding-3-small@256` refuses the same model at another size.
 */
export class OpenAIEmbedder implements Embedder {
  readonly provider = "openai";
  readonly model: string;
  readonly maxBatchSize: number;
  readonly url: string;
  private readonly apiModel: string;
  private readonly apiKey: string | undefined;
  private readonly dimensions: number | undefined;
  private readonly maxBatchTokens: number;
  private readonly requestTimeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly prefixes: Prefixes;
  private dimension: number | null = null;

  constructor(apiModel: string, options: OpenAIEmbedderOptions = {}) {
    const env = options.env ?? process.env;
    if (apiModel.trim() === "") throw new EmbedderError('The openai embedder needs a model name, e.g. "openai:text-embedding-3-small" or "openai:nomic-embed-text".');
    if (options.dimensions !== undefined && !(Number.isInteger(options.dimensions) && options.dimensions > 0)) {
      throw new EmbedderError(`dimensions must be a positive integer, got ${options.dimensions}`);
    }
    this.apiModel = apiModel;
    this.dimensions = options.dimensions;
    this.model = options.dimensions === undefined ? apiModel : `${apiModel}@${options.dimensions}`;
    this.url = `${normaliseBaseUrl(options.baseUrl ?? (env.OPENAI_BASE_URL || DEFAULT_OPENAI_BASE_URL))}/embeddings`;
    this.apiKey = options.apiKey ?? (env.OPENAI_API_KEY || undefined);
    this.maxBatchSize = options.maxBatchSize ?? 64;
    this.maxBatchTokens = options.maxBatchTokens ?? 8192;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.maxRetries = options.maxRetries ?? 4;
    this.retryBaseMs = options.retryBaseMs ?? 500;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.prefixes = prefixesFor(apiModel);
  }

  async load(signal?: AbortSignal): Promise<EmbedderInfo> {
    if (this.dimension === null) {
      if (!this.apiKey && new URL(this.url).hostname === "api.openai.com") {
        throw new EmbedderError(`The OpenAI API needs a key: set OPENAI_API_KEY, or point OPENAI_BASE_URL at a local server (e.g. http://127.0.0.1:11434/v1 for Ollama).`);
      }
      await this.embed(["dimension probe"], { kind: "query", signal });
    }
    return { provider: this.provider, model: this.model, dimension: this.dimension!, distance: "dot", normalized: true };
  }

  async embed(texts: readonly string[], options: EmbedOptions): Promise<Float32Array[]> {
    const input = applyPrefix(texts, this.prefixes, options.kind);
    const out: Float32Array[] = [];
    for (const batch of this.batches(input)) {
      throwIfAborted(options.signal);
      out.push(...(await this.request(batch, options.signal)));
    }
    return out;
  }

  /** Consecutive runs of texts within both the count and the estimated token budget. */
  private *batches(texts: readonly string[]): Generator<readonly string[]> {
    let start = 0;
    let tokens = 0;
    for (let i = 0; i < texts.length; i++) {
      const t = estimateTokens(texts[i]!);
      if (i > start && (i - start >= this.maxBatchSize || tokens + t > this.maxBatchTokens)) {
        yield texts.slice(start, i);
        start = i;
        tokens = 0;
      }
      tokens += t;
    }
    if (start < texts.length) yield texts.slice(start);
  }

  private async request(texts: readonly string[], signal: AbortSignal | undefined): Promise<Float32Array[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(texts, signal);
      } catch (error) {
        if (!(error instanceof RetryableError) || signal?.aborted) throw error;
        if (attempt >= this.maxRetries) {
          throw new EmbedderError(`${error.message}; gave up after ${attempt + 1} attempts.`, { cause: error });
        }
        if (error.retryAfterMs !== null && error.retryAfterMs > this.maxRetryAfterMs) {
          throw new EmbedderError(`${error.message}; the server asks to wait ${Math.ceil(error.retryAfterMs / 1000)} s, longer than we wait. Retry later.`, { cause: error });
        }
        const backoff = Math.min(MAX_BACKOFF_MS, this.retryBaseMs * 2 ** attempt) * (0.75 + Math.random() * 0.5);
        await wait(error.retryAfterMs ?? backoff, signal);
      }
    }
  }

  private async attempt(texts: readonly string[], signal: AbortSignal | undefined): Promise<Float32Array[]> {
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    const body = JSON.stringify({ model: this.apiModel, input: texts, ...(this.dimensions !== undefined ? { dimensions: this.dimensions } : {}) });
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.url, { method: "POST", headers, body, signal: combined });
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw new RetryableError(`${this.url} did not answer within ${this.requestTimeoutMs / 1000} s`);
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      throw new RetryableError(`could not reach ${this.url} (${cause}); check OPENAI_BASE_URL and that the server is running`);
    }
    if (!response.ok) throw this.httpError(response, text);
    return this.parse(text, texts.length);
  }

  private httpError(response: Response, body: string): Error {
    const status = response.status;
    const detail = serverMessage(body);
    const what = `${this.url} answered ${status}${detail ? `: ${detail}` : ""}`;
    if (RETRYABLE_STATUS.has(status)) return new RetryableError(what, retryAfterMs(response.headers));
    if (status === 401 || status === 403) {
      return new EmbedderError(`${what}. The API key was ${this.apiKey ? "rejected" : "missing"}: set OPENAI_API_KEY to a key this endpoint accepts.`);
    }
    const modelMissing = /model/i.test(detail) && /not.?found|does not exist|unknown|no such|not available|invalid model/i.test(detail);
    if (status === 404 || modelMissing) {
      return new EmbedderError(
        modelMissing || (status === 404 && /model/i.test(detail))
          ? `${what}. The endpoint does not serve the model "${this.apiModel}": check the name (with Ollama, run \`ollama pull ${this.apiModel}\` first).`
          : `${what}. No embeddings API at this address: OPENAI_BASE_URL should be the API root, usually ending in /v1.`,
      );
    }
    if (this.dimensions !== undefined && /dimension/i.test(detail)) {
      return new EmbedderError(`${what}. The model "${this.apiModel}" does not accept the dimensions parameter; drop "@${this.dimensions}" from the embedder spec.`);
    }
    return new EmbedderError(`${what}.`);
  }

  private parse(body: string, expected: number): Float32Array[] {
    let data: EmbeddingResponse["data"];
    try {
      data = (JSON.parse(body) as EmbeddingResponse).data;
    } catch {
      throw new EmbedderError(`${this.url} did not answer with JSON: ${body.slice(0, 200)}`);
    }
    if (!Array.isArray(data) || data.length !== expected) {
      throw new EmbedderError(`${this.url} returned ${Array.isArray(data) ? data.length : "no"} embeddings for ${expected} texts; it does not speak the OpenAI embeddings API.`);
    }
    const ordered = data.every((d) => typeof d.index === "number") ? [...data].sort((a, b) => (a.index as number) - (b.index as number)) : data;
    return ordered.map((item, i) => {
      const embedding = item.embedding;
      if (!Array.isArray(embedding) || embedding.length === 0 || !embedding.every((x) => typeof x === "number")) {
        throw new EmbedderError(`${this.url} returned embedding #${i + 1} as something other than an array of numbers (base64 or empty); it does not speak the OpenAI embeddings API.`);
      }
      this.checkDimension(embedding.length);
      return toUnitVector(embedding as number[]);
    });
  }

  private checkDimension(length: number): void {
    if (this.dimensions !== undefined && length !== this.dimensions) {
      throw new EmbedderError(`${this.url} ignored dimensions=${this.dimensions} and returned ${length}-d vectors for "${this.apiModel}"; drop "@${this.dimensions}" from the embedder spec.`);
    }
    this.dimension ??= length;
    if (length !== this.dimension) {
      throw new EmbedderError(`${this.url} returned ${length}-d vectors for "${this.apiModel}" after ${this.dimension}-d ones; the model behind the endpoint changed.`);
    }
  }
}

/** The `error.message` of OpenAI-style error bodies, or the start of any other body. */
function serverMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    const message = typeof parsed.error === "string" ? parsed.error : (parsed.error?.message ?? parsed.message ?? parsed.detail);
    if (typeof message === "string") return message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.trim().slice(0, 200);
}
