/**
 * Where things are in a protocol's source: YAML keeps node ranges, which we turn into line and
 * column for messages. TypeScript protocols have no positions; their messages name the file only.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { ProtocolIssue } from "./errors.ts";

/** A loaded protocol source: its plain data and a way to point at any path inside it. */
export interface ProtocolSource {
  readonly file: string;
  readonly data: unknown;
  /** An issue at a path; `key: true` points at the key itself (for unknown or misspelled keys). */
  issueAt(path: readonly (string | number)[], message: string, opts?: { key?: boolean }): ProtocolIssue;
}

/** Parse YAML text; syntax errors become issues with their position. */
export function yamlSource(file: string, text: string): { source?: ProtocolSource; issues: ProtocolIssue[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues: ProtocolIssue[] = doc.errors.map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    return { file, line: pos.line, col: pos.col, message: e.message.split("\n")[0] };
  });
  if (issues.length) return { issues };
  const at = (offset: number | undefined) => (offset === undefined ? {} : lineCounter.linePos(offset));
  const source: ProtocolSource = {
    file,
    data: doc.toJS(),
    issueAt(path, message, opts = {}) {
      let node: unknown = doc.contents;
      let keyNode: Node | undefined;
      for (const seg of path) {
        if (isMap(node)) {
          const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
          if (!pair) break;
          keyNode = pair.key as Node;
          node = pair.value;
        } else if (isSeq(node) && typeof seg === "number" && node.items[seg]) {
          keyNode = undefined;
          node = node.items[seg];
        } else {
          break;
        }
      }
      const target = opts.key && keyNode ? keyNode : (node as Node | null) ?? keyNode;
      return { file, ...at(target?.range?.[0]), message };
    },
  };
  return { source, issues };
}

/** A TypeScript protocol's default export: plain data, positions unknown. */
export function objectSource(file: string, data: unknown): ProtocolSource {
  return { file, data, issueAt: (_path, message) => ({ file, message }) };
}
