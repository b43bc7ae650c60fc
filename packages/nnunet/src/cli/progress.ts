/**
 * A progress bar on stderr, redrawn on every update (the event loop may be blocked by native work,
 * so nothing is timer-driven); silent when stderr is not a terminal, where it prints one line at
 * the end instead.
 */
export class ProgressBar {
  readonly #label: string;
  readonly #start = performance.now();
  readonly #tty: boolean;
  constructor(label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#tty = stream.isTTY === true;
    this.stream = stream;
  }
  private readonly stream: NodeJS.WriteStream;

  update(done: number, total: number): void {
    if (!this.#tty) return;
    const width = 30;
    const frac = total === 0 ? 1 : done / total;
    const filled = Math.round(frac * width);
    const elapsed = (performance.now() - this.#start) / 1000;
    const eta = done === 0 ? 0 : (elapsed / done) * (total - done);
    this.stream.write(
      `\r${this.#label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${elapsed.toFixed(0)}s elapsed, ${eta.toFixed(0)}s left `,
    );
  }

  finish(done: number, total: number): void {
    const elapsed = ((performance.now() - this.#start) / 1000).toFixed(1);
    this.stream.write(
      `${this.#tty ? '\r' : ''}${this.#label}: ${done}/${total} done in ${elapsed}s${' '.repeat(20)}\n`,
    );
  }
}
