/**
 * `replaceProcess`: the program it runs takes over this process (the same process id, its
 * environment, the same standard streams) with SIGPIPE's default action; without `--allow-ffi` it
 * declines and returns false.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ROOT } from "./helpers.ts";

const POSIX = Deno.build.os === "linux" || Deno.build.os === "darwin";

/** Run a script that prints its process id, then replaces itself with `program`: what both print. */
async function replaced(program: string[]): Promise<string[]> {
  const script = `
    import { replaceProcess } from "${ROOT}src/cli/replace_process.ts";
    console.log("before " + Deno.pid);
    Deno.env.set("REPLACED", "yes, with = and spaces");
    const done = replaceProcess(${JSON.stringify(program[0])}, ${JSON.stringify(program.slice(1))});
    console.log("returned " + done);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
  return text.trim().split("\n");
}

Deno.test({
  name: "replaceProcess: the new program has this process's id, its environment and its arguments",
  ignore: !POSIX,
  fn: async () => {
    // `deno eval` has every permission, --allow-ffi among them.
    const shell = 'echo "after $$ $REPLACED $1,$2"';
    const lines = await replaced(["/bin/sh", "sh", "-c", shell, "sh", "a b", "c"]);
    assert.equal(lines.length, 2, lines.join("\n"));
    const before = lines[0].split(" ")[1];
    assert.equal(lines[1], `after ${before} yes, with = and spaces a b,c`);
  },
});

Deno.test({
  name: "replaceProcess: the new program does not ignore SIGPIPE (Deno does)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const lines = await replaced(["/bin/grep", "grep", "^SigIgn", "/proc/self/status"]);
    assert.equal(lines.length, 2, lines.join("\n"));
    // SIGPIPE is 13: bit 12 (0x1000) of the mask.
    const mask = BigInt(`0x${lines[1].split(":")[1].trim()}`);
    assert.equal((mask >> 12n) & 1n, 0n, lines[1]);
  },
});

Deno.test("replaceProcess: without --allow-ffi it returns false and this process goes on", async () => {
  const script = `
    import { replaceProcess } from "${ROOT}src/cli/replace_process.ts";
    console.log(replaceProcess(Deno.execPath(), [Deno.execPath(), "--version"]));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = out.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const done = await out.output();
  assert.equal(new TextDecoder().decode(done.stdout).trim(), "false", new TextDecoder().decode(done.stderr));
});
