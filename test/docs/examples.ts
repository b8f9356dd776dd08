/**
 * The shell examples of README.md and docs/*.md, as the docs test reads them. Every fenced block in
 * a shell language (sh, bash, shell, console, zsh) carries a mark on the line just before its fence:
 *
 *   <!-- runnable exit=0 output=/SUCCEEDED/ -->   run against the local product; exit code and a
 *                                                 regular expression its output (stdout + stderr) matches
 *   <!-- illustrative: needs an AWS account -->   shown, not run; the reason is required
 *
 * `exit` defaults to 0; `output` is required (an example whose output nobody checks proves little).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell', 'console', 'zsh']);

export interface ShellExample {
  /** Repository-relative file and the fence's line (1-based). */
  readonly file: string;
  readonly line: number;
  readonly code: string;
  readonly mark:
    | { readonly kind: 'runnable'; readonly exit: number; readonly output: RegExp }
    | { readonly kind: 'illustrative'; readonly reason: string }
    | { readonly kind: 'unmarked' | 'bad'; readonly problem: string };
}

const RUNNABLE = /^<!--\s*runnable\s+(.*?)\s*-->$/;
const ILLUSTRATIVE = /^<!--\s*illustrative:\s*(.*?)\s*-->$/;

function parseMark(line: string | undefined): ShellExample['mark'] {
  const text = (line ?? '').trim();
  const illustrative = ILLUSTRATIVE.exec(text);
  if (illustrative) {
    return illustrative[1]
      ? { kind: 'illustrative', reason: illustrative[1] }
      : { kind: 'bad', problem: 'an illustrative mark needs a reason' };
  }
  const runnable = RUNNABLE.exec(text);
  if (!runnable)
    return { kind: 'unmarked', problem: 'no <!-- runnable ... --> or <!-- illustrative: ... --> mark' };
  const attrs = runnable[1] ?? '';
  const exit = /(?:^|\s)exit=(\d+)(?=\s|$)/.exec(attrs);
  const output = /(?:^|\s)output=\/(.*)\/([a-z]*)$/.exec(attrs);
  if (!output) return { kind: 'bad', problem: 'a runnable mark needs output=/regex/ (last)' };
  try {
    return {
      kind: 'runnable',
      exit: exit ? Number(exit[1]) : 0,
      output: new RegExp(output[1] ?? '', output[2]),
    };
  } catch (error) {
    return { kind: 'bad', problem: `output is not a regular expression: ${String(error)}` };
  }
}

/** The shell examples of one markdown text, in order. */
export function shellExamples(file: string, markdown: string): ShellExample[] {
  const lines = markdown.split('\n');
  const found: ShellExample[] = [];
  let open:
    | { fence: string; language: string; line: number; body: string[]; mark: ShellExample['mark'] }
    | undefined;
  lines.forEach((text, index) => {
    const fence = /^\s*(`{3,}|~{3,})\s*([^\s`]*)/.exec(text);
    if (open) {
      if (fence && fence[1] === open.fence && (fence[2] ?? '') === '') {
        if (SHELL_LANGUAGES.has(open.language)) {
          found.push({ file, line: open.line, code: open.body.join('\n'), mark: open.mark });
        }
        open = undefined;
      } else open.body.push(text);
      return;
    }
    if (fence) {
      let before = index - 1;
      while (before >= 0 && lines[before]?.trim() === '') before -= 1;
      open = {
        fence: fence[1] ?? '```',
        language: (fence[2] ?? '').toLowerCase(),
        line: index + 1,
        body: [],
        mark: parseMark(lines[before]),
      };
    }
  });
  return found;
}

/** README.md and every docs/*.md of the repository at `root`. */
export function repositoryExamples(root: string): ShellExample[] {
  const files = [
    join(root, 'README.md'),
    ...readdirSync(join(root, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .sort()
      .map((name) => join(root, 'docs', name)),
  ];
  return files.flatMap((path) => shellExamples(relative(root, path), readFileSync(path, 'utf8')));
}
