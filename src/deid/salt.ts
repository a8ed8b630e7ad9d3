/** Reading the salt from where the protocol says. The value is never printed or logged. */
import type { Protocol } from "../protocol/protocol.ts";
import { Keys } from "./keys.ts";

/** The salt's bytes, from the protocol's salt source (an environment variable or a file). */
export async function readSalt(
  p: Protocol,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Promise<Uint8Array> {
  const src = p.deidentify?.saltSource;
  if (!src) throw new Error("this protocol does not de-identify: it has no salt");
  if ("env" in src) {
    const v = env(src.env);
    if (!v) throw new Error("the salt's environment variable is not set");
    return new TextEncoder().encode(v);
  }
  // Trailing newlines come from editors and `echo`; they are not part of the secret.
  return new TextEncoder().encode((await Deno.readTextFile(src.file)).replace(/[\r\n]+$/, ""));
}

/** The keys of a run, from the protocol's salt. */
export async function keysFor(p: Protocol, env?: (name: string) => string | undefined): Promise<Keys> {
  return new Keys(await readSalt(p, env));
}
