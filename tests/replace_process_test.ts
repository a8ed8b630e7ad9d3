/**
 * `replaceProcess`: the program it runs takes over this process (the same process id, the given
 * environment, the same standard streams); without `--allow-ffi` it declines and returns false.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ROOT } from "./helpers.ts";

const POSIX = Deno.build.os === "linux" || Deno.build.os === "darwin";

/** Run a script that prints its process id, then replaces itself with one that prints its own. */
async function replaced(flags: string[]): Promise<{ code: number; lines: string[] }> {
  const script = `
    import { replaceProcess } from "${ROOT}src/cli/replace_process.ts";
    console.log("before " + Deno.pid);
    const program = "console.log('after ' + Deno.pid + ' ' + Deno.env.get('REPLACED') + ' ' + Deno.args.join(','))";
    const deno = Deno.execPath();
    const env = { ...Deno.env.toObject(), REPLACED: "yes, with = and spaces" };
    const done = replaceProcess(deno, [deno, "eval", program, "a b", "c"], env);
    console.log("returned " + done);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", ...flags, script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
  return { code: out.code, lines: text.trim().split("\n") };
}

Deno.test({
  name: "replaceProcess: the new program has this process's id, the environment given and its arguments",
  ignore: !POSIX,
  fn: async () => {
    // `deno eval` has every permission, --allow-ffi among them.
    const { lines } = await replaced([]);
    assert.equal(lines.length, 2, lines.join("\n"));
    const before = lines[0].split(" ")[1];
    assert.equal(lines[1], `after ${before} yes, with = and spaces a b,c`);
  },
});

Deno.test("replaceProcess: without --allow-ffi it returns false and this process goes on", async () => {
  const script = `
    import { replaceProcess } from "${ROOT}src/cli/replace_process.ts";
    console.log(replaceProcess(Deno.execPath(), [Deno.execPath(), "--version"], {}));
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
