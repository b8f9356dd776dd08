/**
 * The config file as YAML: read with a size limit, parsed with an alias limit, and the line of any
 * setting found again for error messages.
 */
import { open } from 'node:fs/promises';
import {
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
} from 'yaml';
import { ConfigError, type ConfigIssue } from './config-error';

/** The largest config file read: far above any real one (500 jobs), small enough that a stray file is refused. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/**
 * How many nodes YAML aliases may expand to in total (the `yaml` library's count, also its default):
 * anchors for shared settings fit easily; an alias bomb (aliases of aliases, doubling at each level)
 * is refused before it is expanded.
 */
export const MAX_CONFIG_ALIAS_COUNT = 100;

/** Reads the file, refusing one over {@link MAX_CONFIG_BYTES} (naming the line where it crosses the limit) unread past it. */
export async function readConfigFile(path: string): Promise<string> {
  const fileIssue = (line: number | undefined, reason: string): ConfigIssue => ({
    origin: 'file',
    location: path,
    line,
    field: '(file)',
    reason,
  });
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_CONFIG_BYTES) {
        const line = buffer.subarray(0, MAX_CONFIG_BYTES).toString('latin1').split('\n').length;
        throw new ConfigError([
          fileIssue(
            line,
            `is over the ${MAX_CONFIG_BYTES}-byte limit for a config file (it crosses it on this line)`,
          ),
        ]);
      }
    }
    return buffer.subarray(0, length).toString('utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([fileIssue(undefined, `cannot be read (${code})`)], { cause: error });
  } finally {
    await handle?.close();
  }
}

/** A parsed config file: its settings as plain data, and where each one was written. */
export interface ParsedYaml {
  readonly raw: Record<string, unknown>;
  /** The 1-based line of the setting at `path`, or of the deepest part of it the file has (see {@link lineOf}). */
  readonly lineOf: (path: readonly (string | number)[]) => number | undefined;
}

/** Parses the text as YAML; syntax errors, an alias bomb or a root that is not a mapping are ConfigErrors. */
export function parseYaml(text: string, fileLabel: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map(
      (error): ConfigIssue => ({
        origin: 'file',
        location: fileLabel,
        line: lineCounter.linePos(error.pos[0]).line,
        field: '(yaml)',
        reason: error.message.split('\n')[0] ?? 'invalid YAML',
      }),
    );
    throw new ConfigError(issues as [ConfigIssue, ...ConfigIssue[]]);
  }
  const raw: unknown = doc.contents === null ? {} : toJsWithLimits(doc, fileLabel, lineCounter);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([
      {
        origin: 'file',
        location: fileLabel,
        line: 1,
        field: '(root)',
        reason: 'must be a mapping of settings',
      },
    ]);
  }
  return {
    raw: raw as Record<string, unknown>,
    lineOf: (path) => lineOf(doc.contents, path, lineCounter),
  };
}

/**
 * The document as plain data, with aliases expanded at most {@link MAX_CONFIG_ALIAS_COUNT} nodes'
 * worth. Past that (an alias bomb) a ConfigError names the first alias's line and the key it sits under.
 */
function toJsWithLimits(doc: Document, fileLabel: string, lineCounter: LineCounter): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_CONFIG_ALIAS_COUNT });
  } catch (error) {
    let line: number | undefined;
    let field = '(yaml)';
    visit(doc, {
      Alias(_key, node, path) {
        const keys = path.filter(isPair).map((pair) => (isScalar(pair.key) ? String(pair.key.value) : '?'));
        if (keys.length > 0) field = keys.join('.');
        const start = rangeStart(node);
        line = start === undefined ? undefined : lineCounter.linePos(start).line;
        return visit.BREAK;
      },
    });
    const reason =
      line === undefined
        ? `cannot be read as data (${error instanceof Error ? error.message : String(error)})`
        : `YAML aliases here expand past the limit of ${MAX_CONFIG_ALIAS_COUNT} nodes (an alias bomb?)`;
    throw new ConfigError([{ origin: 'file', location: fileLabel, line, field, reason }], { cause: error });
  }
}

/**
 * The 1-based line of the deepest YAML node along `path`: the key's line for a mapping entry (so a block
 * value that starts on the next line still points at its key), the item's line for a sequence entry.
 */
function lineOf(root: unknown, path: readonly (string | number)[], counter: LineCounter): number | undefined {
  let node: unknown = root;
  let offset: number | undefined = rangeStart(root);
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : counter.linePos(offset).line;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}
