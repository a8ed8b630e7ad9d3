/**
 * The salt's checks. The salt is a secret: a protocol names where it is (`{ env: NAME }` or
 * `{ file: path }`), never holds it, and no message echoes it. Only its presence and length are
 * checked here; the value is read when a run needs it.
 *
 * @module
 */
import type { ProtocolIssue } from "./errors.ts";
import { isInside } from "./paths.ts";
import type { DeidentifyData } from "./schema.ts";
import type { ProtocolSource } from "./source.ts";

const INLINE_SALT_PLACEHOLDER = "DCMTIDY_INLINE_SALT_REFUSED";
/** A shorter salt can be found by trying every pseudonym of a known patient ID. */
export const MIN_SALT_LENGTH = 16;

/**
 * Refuse a salt written into the protocol, without echoing it. The value is replaced by a
 * placeholder (in `source.data`) so that the rest of the protocol is checked as usual.
 */
export function refuseInlineSalt(source: ProtocolSource, issues: ProtocolIssue[]): void {
  const raw = source.data;
  const salt = (raw as { deidentify?: { salt?: unknown } } | null)?.deidentify?.salt;
  if (typeof salt === "string" || typeof salt === "number") {
    // Never echo it: the value is a secret that must not be in git, let alone in a message.
    issues.push(
      source.issueAt(
        ["deidentify", "salt"],
        "an inline salt is refused: use { env: NAME } or { file: path } outside git",
      ),
    );
    // Let the rest be checked as if the salt were well placed; its own check is already reported.
    (raw as { deidentify: { salt: unknown } }).deidentify.salt = { env: INLINE_SALT_PLACEHOLDER };
  }
}

/** How far the salt's source is checked (see `LoadOptions`). */
export interface SaltCheck {
  /** Environment lookup; default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  /** Check neither the variable nor the file (sandboxed workers get the salt's bytes instead). */
  skipSaltCheck?: boolean;
}

/**
 * Where the salt is, absolute; its problems go to `at` (a path under `deidentify`): a variable not
 * set, a file missing, a salt too short, a salt file inside the output root.
 */
export async function checkSalt(
  salt: DeidentifyData["salt"],
  ctx: SaltCheck,
  at: (path: (string | number)[], message: string) => void,
  fromProtocol: (p: string) => string,
  outputRoot: string,
): Promise<{ env: string } | { file: string }> {
  const env = ctx.env ?? ((n: string) => Deno.env.get(n));
  let saltSource: { env: string } | { file: string };
  if ("env" in salt) {
    saltSource = { env: salt.env };
    if (salt.env !== INLINE_SALT_PLACEHOLDER && !ctx.skipSaltCheck) {
      const value = env(salt.env);
      // Variable names are conventionally upper case; a long lower-case "name" is most likely the
      // salt itself pasted in the wrong place, so it is not echoed.
      const pasted = /[a-z]/.test(salt.env) && salt.env.length >= 12;
      const shown = pasted ? "named in salt.env" : salt.env;
      if (!value) {
        at(
          ["salt", "env"],
          `environment variable ${shown} is not set (it holds the salt)` +
            (pasted ? "; if this is the salt itself, put it in a variable and name the variable here" : ""),
        );
      } else if (value.length < MIN_SALT_LENGTH) {
        at(["salt", "env"], `the salt in ${shown} is too short: use at least ${MIN_SALT_LENGTH} characters`);
      }
    }
  } else {
    saltSource = { file: fromProtocol(salt.file) };
    const kind = ctx.skipSaltCheck ? "file" : await statKind(saltSource.file);
    if (kind !== "file") {
      at(
        ["salt", "file"],
        `salt file ${saltSource.file} ${kind === "missing" ? "does not exist" : "is not a file"}`,
      );
    } else if (!ctx.skipSaltCheck && (await Deno.stat(saltSource.file)).size < MIN_SALT_LENGTH) {
      at(["salt", "file"], `salt file ${saltSource.file} holds fewer than ${MIN_SALT_LENGTH} bytes`);
    }
    if (isInside(saltSource.file, outputRoot)) {
      at(["salt", "file"], "the salt file must not be inside the output root");
    }
  }
  return saltSource;
}

async function statKind(path: string): Promise<"file" | "dir" | "other" | "missing"> {
  try {
    const st = await Deno.stat(path);
    return st.isFile ? "file" : st.isDirectory ? "dir" : "other";
  } catch {
    return "missing";
  }
}
