/**
 * Progress of a long step (scan, plan, run) on stderr. On a terminal: one bar redrawn in place at
 * most ten times a second (label, bar, files done/total, MB/s or files/s, ETA), finished with a
 * newline. Elsewhere (CI, a pipe, a log file): a plain line every five seconds and a final line,
 * so logs stay readable. The clock and the writer are injected, so tests drive it exactly.
 */

/** Options for a {@link Progress}. */
export interface ProgressOptions {
  /** What is being done: "scanning", "planning", "writing". */
  readonly label: string;
  /** Files to do. */
  readonly total: number;
  /** Bytes to do, when the step reports bytes (then the rate is MB/s and the ETA follows bytes). */
  readonly totalBytes?: number;
  /** Redraw a bar in place (a terminal), or print plain lines. */
  readonly tty: boolean;
  /** Where the text goes (stderr). */
  readonly write: (text: string) => void;
  /** Milliseconds on a monotonic clock. Default: `performance.now`. */
  readonly now?: () => number;
  /** Width of the terminal, for the bar. Default 80. */
  readonly columns?: number;
  /** Least time between two redraws (terminal) or two lines (plain). Defaults: 100 ms and 5000 ms. */
  readonly intervalMs?: number;
}

/** Seconds as `m:ss` or `h:mm:ss`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A rate: MB/s (10^6 bytes) when bytes are known, else files/s. */
function formatRate(perSecond: number, bytes: boolean): string {
  if (bytes) return `${(perSecond / 1e6).toFixed(perSecond < 1e7 ? 1 : 0)} MB/s`;
  return `${perSecond.toFixed(perSecond < 10 ? 1 : 0)} files/s`;
}

/** Work timed for less than this shows no rate and no ETA yet (the final line always has its rate). */
const MIN_RATE_SECONDS = 0.1;

/** A progress display for one step: call `update` as work is done, `finish` at the end. */
export class Progress {
  readonly #o: ProgressOptions;
  readonly #now: () => number;
  readonly #interval: number;
  readonly #started: number;
  #last = -Infinity;
  #done = 0;
  #bytes?: number;
  #finished = false;

  constructor(opts: ProgressOptions) {
    this.#o = opts;
    this.#now = opts.now ?? (() => performance.now());
    this.#interval = opts.intervalMs ?? (opts.tty ? 100 : 5000);
    this.#started = this.#now();
    // A plain log gets its first line after one interval, not at once: short steps print one line.
    if (!opts.tty) this.#last = this.#started;
  }

  /** Work done so far: files, and bytes when the step counts them. Cheap enough to call per file. */
  update(done: number, bytes?: number): void {
    if (this.#finished) return;
    this.#done = done;
    if (bytes !== undefined) this.#bytes = bytes;
    const t = this.#now();
    if (t - this.#last < this.#interval) return;
    this.#last = t;
    this.#draw(t, false);
  }

  /** The final state: the bar completed and a newline, or the last plain line. Idempotent. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#draw(this.#now(), true);
  }

  /** Rate per second (of bytes when known, else of files) and the ETA in seconds, if known. */
  #rates(t: number, final: boolean): { rate: number; eta?: number; byBytes: boolean } {
    const secs = (t - this.#started) / 1000;
    const byBytes = this.#bytes !== undefined;
    const done = byBytes ? this.#bytes! : this.#done;
    const total = byBytes ? this.#o.totalBytes : this.#o.total;
    // A rate from the first instants is noise (one file in a millisecond made "ETA 2:12:21"); the
    // final line's is the whole work's, however short.
    const rate = (final ? secs > 0 : secs >= MIN_RATE_SECONDS) ? done / secs : 0;
    const eta = rate > 0 && total !== undefined ? Math.max(0, total - done) / rate : undefined;
    return { rate, eta, byBytes };
  }

  #draw(t: number, final: boolean): void {
    const { label, total } = this.#o;
    const { rate, eta, byBytes } = this.#rates(t, final);
    const secs = (t - this.#started) / 1000;
    const count = `${this.#done}/${total} files`;
    const speed = secs > 0 && rate > 0 ? formatRate(rate, byBytes) : "";
    if (!this.#o.tty) {
      const pct = total > 0 ? ` (${Math.floor((100 * this.#done) / total)}%)` : "";
      const tail = final
        ? `${label}: ${count} in ${secs.toFixed(1)} s${speed ? `, ${speed}` : ""}`
        : `${label}: ${count}${pct}${speed ? `, ${speed}` : ""}${
          eta !== undefined ? `, ETA ${formatDuration(eta)}` : ""
        }`;
      this.#o.write(tail + "\n");
      return;
    }
    const right = [
      count,
      speed,
      final ? `${secs.toFixed(1)} s` : eta !== undefined ? `ETA ${formatDuration(eta)}` : "",
    ]
      .filter(Boolean).join("  ");
    const columns = this.#o.columns ?? 80;
    const width = Math.max(10, Math.min(40, columns - label.length - right.length - 6));
    const frac = total > 0 ? Math.min(1, this.#done / total) : final ? 1 : 0;
    const full = Math.round(frac * width);
    const bar = `[${"#".repeat(full)}${"-".repeat(width - full)}]`;
    // \r and erase-line: the bar replaces itself; the final draw ends the line.
    this.#o.write(`\r\x1b[2K${label} ${bar} ${right}${final ? "\n" : ""}`);
  }
}

/** A reporter on this process's stderr (bar on a terminal, lines otherwise). */
export function stderrProgress(label: string, total: number, totalBytes?: number): Progress {
  const tty = Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  let columns = 80;
  if (tty) {
    try {
      columns = Deno.consoleSize().columns;
    } catch {
      // not a console after all: keep 80
    }
  }
  return new Progress({
    label,
    total,
    totalBytes,
    tty,
    columns,
    write: (text) => {
      const bytes = encoder.encode(text);
      for (let off = 0; off < bytes.length;) off += Deno.stderr.writeSync(bytes.subarray(off));
    },
  });
}
