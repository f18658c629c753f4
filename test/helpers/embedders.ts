import type { Embedder, EmbedderInfo, EmbedOptions } from "../../src/embed/embedder.js";
import { HashEmbedder } from "../../src/embed/hash.js";
import { DIM } from "./store.js";

/**
 * The hashing embedder with a switch: tests flip `mode` to make the next
 * calls return broken vectors, throw, or hang, and count the calls made;
 * or hold one background write's embedding (`holdNextDocuments`) until
 * they let it go.
 */
export class FaultyEmbedder implements Embedder {
  readonly provider = "hash";
  readonly model = String(DIM);
  readonly maxBatchSize = 1024;
  mode: "ok" | "nan" | "wrong-dimension" | "throw" | "hang" | "hang-documents" | "hold-documents" = "ok";
  calls = 0;
  texts = 0;
  private readonly inner = new HashEmbedder(DIM);
  private held: (() => void)[] = [];
  private holdNext: (() => void) | null = null;

  /** Lets the document embeddings held by "hold-documents" go ahead (and later ones too, mode back to "ok"). */
  release(): void {
    this.mode = "ok";
    for (const go of this.held.splice(0)) go();
  }

  /** Holds the next document embedding only (later ones pass); resolves once that call has arrived and is held. */
  holdNextDocuments(): Promise<void> {
    return new Promise((arrived) => (this.holdNext = arrived));
  }

  /** Lets the oldest held document embedding go ahead; false when none is held. */
  releaseOldest(): boolean {
    const go = this.held.shift();
    go?.();
    return go !== undefined;
  }

  load(): Promise<EmbedderInfo> {
    return this.inner.load();
  }

  async embed(texts: readonly string[], options: EmbedOptions): Promise<Float32Array[]> {
    this.calls++;
    this.texts += texts.length;
    const arrived = options.kind === "document" ? this.holdNext : null;
    if (arrived) {
      this.holdNext = null;
      await new Promise<void>((resolve) => {
        this.held.push(resolve);
        arrived();
      });
    }
    switch (this.mode) {
      case "throw":
        throw new Error("model server exploded");
      case "hang":
        return new Promise(() => undefined);
      case "hang-documents":
        return options.kind === "document" ? new Promise(() => undefined) : this.inner.embed(texts, options);
      case "hold-documents":
        if (options.kind === "document") await new Promise<void>((resolve) => this.held.push(resolve));
        return this.inner.embed(texts, options);
      case "nan":
        return texts.map(() => new Float32Array(DIM).fill(Number.NaN));
      case "wrong-dimension":
        return texts.map(() => new Float32Array(DIM + 1));
      default:
        return this.inner.embed(texts, options);
    }
  }
}
