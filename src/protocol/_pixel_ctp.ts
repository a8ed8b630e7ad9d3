/**
 * RSNA CTP `DicomPixelAnonymizer.script` files, read as CTP reads them (`PixelScript`,
 * `Signature`, `DicomObject.matches`): each `{ ... }` is a signature, a boolean expression over
 * `Element.method("text")` operands with `*` (and), `+` (or), `!` (not) and parentheses, `//`
 * comments; every `(x,y,w,h)` between it and the next signature is a region. Other text is
 * commentary and is ignored, as CTP ignores it.
 *
 * @module
 */
import {
  checkRegExp,
  elementKey,
  escapeRegExp,
  type Expr,
  type SourceEntry,
  type Test,
  untestable,
} from "./_pixel_expr.ts";

/** Whether text looks like a CTP pixel script: a signature calling a method with a quoted text. */
export function looksLikeCtp(text: string): boolean {
  return /\{[^}]*[\w\]]\s*\.\s*[A-Za-z]+\s*\(\s*"[^}]*\}/.test(text);
}

const lineOf = (text: string, index: number) => text.slice(0, index).split("\n").length;

/** Every signature of a CTP pixel script, in order. */
export function parseCtpScript(text: string): SourceEntry[] {
  const signatures = [...text.matchAll(/\{[^}]*\}/g)];
  return signatures.map((m, i) => {
    const end = m.index + m[0].length;
    const between = text.slice(end, i + 1 < signatures.length ? signatures[i + 1].index : text.length);
    const regionTexts = [...between.matchAll(/\([^)]*\)/g)].map((r) => r[0])
      .filter((r) => r.slice(1, -1).split(",").length === 4); // CTP skips the others
    const source = [m[0], regionTexts.join(" ")].filter((s) => s).join("\n");
    const line = lineOf(text, m.index);
    const blank: [number, number, number, number][] = [];
    for (const r of regionTexts) {
      const parts = r.slice(1, -1).split(",").map((p) => p.trim());
      if (!parts.every((p) => /^[+-]?\d+$/.test(p))) {
        return { line, text: source, problem: `region ${r} is not four whole numbers` };
      }
      const [x, y, w, h] = parts.map(Number);
      if (w < 1 || h < 1) return { line, text: source, problem: `region ${r} has no width or height` };
      blank.push([x, y, w, h]);
    }
    if (blank.length === 0) {
      return {
        line,
        text: source,
        problem: "no regions (in CTP such a signature exempts its images from later signatures; " +
          "dcmtidy rules add up, so there is nothing to import)",
      };
    }
    let expr: Expr;
    try {
      expr = new Parser(m[0].slice(1, -1)).parse();
    } catch (e) {
      if (!(e instanceof ScriptSyntaxError)) throw e;
      return { line, text: source, problem: `does not parse: ${e.message}` };
    }
    return { line, text: source, expr, blank };
  });
}

/** The test a CTP method makes, or the reason it has no dcmtidy condition. */
function methodTest(method: string, arg: string): Test | string {
  switch (method) {
    case "equals":
    case "equalsIgnoreCase":
      // CTP compares the whole value; with a backslash it means several values, all of them.
      return arg.includes("\\")
        ? { kind: "matches", re: `^\\s*${escapeRegExp(arg.trim())}\\s*$` }
        : { kind: "equals", value: arg };
    case "contains":
    case "containsIgnoreCase":
      return arg === "" ? `${method}("") holds for every value` : { kind: "contains", text: arg };
    case "startsWith":
    case "startsWithIgnoreCase":
      return { kind: "matches", re: `^${escapeRegExp(arg)}` };
    case "endsWith":
    case "endsWithIgnoreCase":
      return { kind: "matches", re: `${escapeRegExp(arg)}\\s*$` };
    case "matches": {
      // Java's matches() is a whole-value match; dcmtidy's matching ignores case anyway.
      const re = checkRegExp(`^(?:${arg.replace(/^\(\?i\)/, "")})$`);
      return re === undefined ? `the Java regular expression "${arg}" is not valid in JavaScript` : {
        kind: "matches",
        re,
      };
    }
    case "isLessThan":
    case "isGreaterThan":
      return `${method} (a numeric comparison) has no dcmtidy condition`;
    default:
      return `unknown function ${method}`;
  }
}

/** A signature that does not parse (caught above: the signature is reported, not imported). */
class ScriptSyntaxError extends Error {}

/** A recursive descent parser of one signature, with CTP's precedence: `!` over `*` over `+`. */
class Parser {
  private pos = 0;
  constructor(private readonly src: string) {}

  parse(): Expr {
    const e = this.or();
    this.skip();
    if (this.pos < this.src.length) {
      throw new ScriptSyntaxError(`unexpected "${this.src.slice(this.pos, this.pos + 20)}"`);
    }
    return e;
  }

  private skip(): void {
    for (;;) {
      const m = /\s+|\/\/[^\n]*/y;
      m.lastIndex = this.pos;
      if (!m.exec(this.src)) return;
      this.pos = m.lastIndex;
    }
  }

  private peek(): string {
    this.skip();
    return this.src[this.pos] ?? "";
  }

  private or(): Expr {
    const args = [this.and()];
    while (this.peek() === "+") {
      this.pos++;
      args.push(this.and());
    }
    return args.length === 1 ? args[0] : { op: "or", args };
  }

  private and(): Expr {
    const args = [this.factor()];
    while (this.peek() === "*") {
      this.pos++;
      args.push(this.factor());
    }
    return args.length === 1 ? args[0] : { op: "and", args };
  }

  private factor(): Expr {
    const c = this.peek();
    if (c === "!") {
      this.pos++;
      return { op: "not", arg: this.factor() };
    }
    if (c === "(") {
      this.pos++;
      const e = this.or();
      if (this.peek() !== ")") throw new ScriptSyntaxError("a ) is missing");
      this.pos++;
      return e;
    }
    return this.operand();
  }

  private operand(): Expr {
    const re = /(\[[^\]]*\]|[A-Za-z][\w:]*)\s*\.\s*([A-Za-z]+)\s*\(\s*"([^"]*)"\s*\)/y;
    re.lastIndex = this.pos;
    const m = re.exec(this.src);
    if (!m) {
      const word = /true|false/y;
      word.lastIndex = this.pos;
      if (word.exec(this.src)) throw new ScriptSyntaxError("the constants true and false are not supported");
      throw new ScriptSyntaxError(
        `expected Element.method("text") at "${this.src.slice(this.pos, this.pos + 20)}"`,
      );
    }
    this.pos = re.lastIndex;
    const [, element, method, arg] = m;
    const key = elementKey(element);
    if (key === undefined) return { op: "fail", reason: `unknown element ${element}` };
    const why = untestable(key);
    if (why) return { op: "fail", reason: why };
    const test = methodTest(method, arg);
    return typeof test === "string" ? { op: "fail", reason: test } : { op: "atom", key, test };
  }
}
