/** Reading the files commands take (`-f FILE`, `-` for stdin): YAML, of which JSON is a subset. */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { UsageError } from './io';

export function readText(path: string, command: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`, command);
  }
}

/** One object (a job spec, a contact) from a YAML or JSON file; `what` names it in the error. */
export function readObject(path: string, what: string, command: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = parseYaml(readText(path, command));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(
      `${path} is not valid YAML or JSON: ${error instanceof Error ? error.message : error}`,
      command,
    );
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new UsageError(`${path} must hold one ${what} (an object)`, command);
  }
  return data as Record<string, unknown>;
}
