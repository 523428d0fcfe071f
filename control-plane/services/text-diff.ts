/**
 * A unified diff of two texts by lines (`diff -u` shape), for the history of a pipeline.
 * Pipeline configs are small (hundreds of lines), so the quadratic LCS table is fine.
 */

type Edit = { readonly kind: ' ' | '-' | '+'; readonly line: string };

/** Lines of `before` and `after` as an edit script: kept, removed and added lines in order. */
export function lineEdits(before: readonly string[], after: readonly string[]): Edit[] {
  const rows = before.length + 1;
  const cols = after.length + 1;
  // lcs[i * cols + j]: length of the longest common subsequence of before[i..] and after[j..].
  const lcs = new Uint32Array(rows * cols);
  for (let i = before.length - 1; i >= 0; i--) {
    for (let j = after.length - 1; j >= 0; j--) {
      lcs[i * cols + j] =
        before[i] === after[j]
          ? lcs[(i + 1) * cols + j + 1]! + 1
          : Math.max(lcs[(i + 1) * cols + j]!, lcs[i * cols + j + 1]!);
    }
  }
  const edits: Edit[] = [];
  let i = 0;
  let j = 0;
  while (i < before.length && j < after.length) {
    if (before[i] === after[j]) {
      edits.push({ kind: ' ', line: before[i]! });
      i++;
      j++;
    } else if (lcs[(i + 1) * cols + j]! >= lcs[i * cols + j + 1]!) {
      edits.push({ kind: '-', line: before[i++]! });
    } else {
      edits.push({ kind: '+', line: after[j++]! });
    }
  }
  while (i < before.length) edits.push({ kind: '-', line: before[i++]! });
  while (j < after.length) edits.push({ kind: '+', line: after[j++]! });
  return edits;
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * `--- fromLabel` / `+++ toLabel` then `@@ -a,b +c,d @@` hunks with `context` unchanged
 * lines around each change. Empty when the texts are equal.
 */
export function unifiedDiff(
  beforeText: string,
  afterText: string,
  fromLabel: string,
  toLabel: string,
  context = 3,
): string {
  const edits = lineEdits(splitLines(beforeText), splitLines(afterText));
  const changed = edits.map((edit) => edit.kind !== ' ');
  if (!changed.includes(true)) return '';
  const out = [`--- ${fromLabel}`, `+++ ${toLabel}`];
  let index = 0;
  while (index < edits.length) {
    if (!changed[index]) {
      index++;
      continue;
    }
    // A hunk: from `context` lines before this change to `context` lines after the last
    // change that is no more than 2*context unchanged lines away.
    const start = Math.max(0, index - context);
    let end = index;
    let lastChange = index;
    while (end < edits.length && end - lastChange <= 2 * context) {
      if (changed[end]) lastChange = end;
      end++;
    }
    end = Math.min(edits.length, lastChange + context + 1);
    let oldStart = 1;
    let newStart = 1;
    for (let k = 0; k < start; k++) {
      if (edits[k]!.kind !== '+') oldStart++;
      if (edits[k]!.kind !== '-') newStart++;
    }
    const hunk = edits.slice(start, end);
    const oldCount = hunk.filter((edit) => edit.kind !== '+').length;
    const newCount = hunk.filter((edit) => edit.kind !== '-').length;
    out.push(
      `@@ -${oldCount === 0 ? oldStart - 1 : oldStart},${oldCount} +${newCount === 0 ? newStart - 1 : newStart},${newCount} @@`,
    );
    for (const edit of hunk) out.push(`${edit.kind}${edit.line}`);
    index = end;
  }
  return `${out.join('\n')}\n`;
}
