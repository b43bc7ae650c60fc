/**
 * Progress on stderr, driven by updates (the event loop may be blocked by native work, so nothing is
 * timer-driven). On a terminal: a bar redrawn on every update. Otherwise (a cluster job's log file):
 * a plain line at most every NNUNET_PROGRESS_SECONDS seconds (default 30) with the iteration, the
 * loss, the speed and the time left, and one line at the end.
 */
const DEFAULT_LOG_SECONDS = 30;

function logInterval(): number {
  const v = Number(process.env.NNUNET_PROGRESS_SECONDS);
  return Number.isFinite(v) && v >= 0 ? v : DEFAULT_LOG_SECONDS;
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export class ProgressBar {
  readonly #label: string;
  readonly #start = performance.now();
  readonly #tty: boolean;
  readonly #stream: NodeJS.WriteStream;
  readonly #interval: number;
  #lastLine: number;

  constructor(label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#tty = stream.isTTY === true;
    this.#stream = stream;
    this.#interval = logInterval() * 1000;
    this.#lastLine = this.#start;
  }

  update(done: number, total: number, loss?: number): void {
    const now = performance.now();
    const elapsed = (now - this.#start) / 1000;
    const eta = done === 0 ? 0 : (elapsed / done) * (total - done);
    const speed = elapsed > 0 ? done / elapsed : 0;
    const lossText = loss === undefined ? '' : `, loss ${loss.toFixed(4)}`;
    if (this.#tty) {
      const width = 30;
      const filled = Math.round((total === 0 ? 1 : done / total) * width);
      this.#stream.write(
        `\r${this.#label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${lossText} ${elapsed.toFixed(0)}s elapsed, ${eta.toFixed(0)}s left `,
      );
      return;
    }
    if (done >= total || now - this.#lastLine < this.#interval) return;
    this.#lastLine = now;
    this.#stream.write(
      `${new Date().toISOString()} ${this.#label} ${done}/${total}${lossText}, ${speed >= 1 ? `${speed.toFixed(2)} it/s` : `${(1 / Math.max(speed, 1e-9)).toFixed(1)} s/it`}, ${duration(eta)} left\n`,
    );
  }

  finish(done: number, total: number): void {
    const elapsed = ((performance.now() - this.#start) / 1000).toFixed(1);
    this.#stream.write(
      `${this.#tty ? '\r' : ''}${this.#label}: ${done}/${total} done in ${elapsed}s${' '.repeat(20)}\n`,
    );
  }
}
