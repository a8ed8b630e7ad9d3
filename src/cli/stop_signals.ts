/**
 * The signals that stop a command cleanly (Ctrl-C, and a termination: `kill`, Slurm's `scancel`, a
 * Kubernetes pod stopped), what the user is told, and the exit code of a program they stopped.
 *
 * @module
 */

/** Ctrl-C, and a termination where the system sends one (Windows sends only Ctrl-C). */
const STOPS: readonly Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];

/** Call `stop` on each stopping signal; what it returns stops listening. */
export function onStop(stop: (signal: Deno.Signal) => void): () => void {
  const listeners = STOPS.map((signal) => [signal, () => stop(signal)] as const);
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  return () => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
}

/** How the user is told why a command stopped. */
export function stoppedBy(signal: Deno.Signal): string {
  return signal === "SIGTERM" ? "terminated (SIGTERM)" : "interrupted";
}

/** The exit code of a program stopped by `signal`: 128 and its number (a kill's 9 for others). */
export function exitCodeOf(signal: Deno.Signal): number {
  return 128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 9);
}
