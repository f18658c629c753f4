/**
 * A one-line progress bar on a terminal; silent when the stream is a pipe
 * or file, where carriage returns would only litter the log.
 */
export class ProgressBar {
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly total: number,
    /** What is counted, e.g. "files". */
    private readonly unit: string,
    private readonly width = 28,
  ) {}

  get enabled(): boolean {
    return this.stream.isTTY === true && this.total > 0;
  }

  update(done: number, detail: string): void {
    if (!this.enabled) return;
    const now = Date.now();
    // Redrawing on every file of a big folder costs more than the files themselves.
    if (done < this.total && now - this.lastDraw < 50) return;
    this.lastDraw = now;
    const filled = Math.round((done / this.total) * this.width);
    const line = `[${"#".repeat(filled)}${".".repeat(this.width - filled)}] ${done}/${this.total} ${this.unit}  ${detail}`;
    const columns = this.stream.columns ?? 80;
    this.stream.write(`\r${line.slice(0, columns - 1)}\x1b[K`);
    this.drawn = true;
  }

  /** Clears the bar so later output starts on a clean line. */
  clear(): void {
    if (this.drawn) this.stream.write("\r\x1b[K");
    this.drawn = false;
  }
}
