import type { z } from 'zod';
import { type FieldIssue, ValidationError } from '../errors';

/** Turns zod's issues into Clover's field/reason pairs, with dotted field paths (`target.workerIds.0`). */
export function fieldIssues(error: z.ZodError, root?: string): FieldIssue[] {
  const name = (path: readonly PropertyKey[]) =>
    [root, ...path.map(String)].filter(Boolean).join('.') || '(input)';
  return error.issues.flatMap((issue) =>
    // An unknown key is a problem with that key, not with the object holding it.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: name([...issue.path, key]), reason: 'is not a known field' }))
      : [{ field: name(issue.path), reason: issue.message }],
  );
}

/**
 * Validates `input` against `schema` and returns the parsed (defaulted, frozen-by-convention) value,
 * or throws a ValidationError naming every offending field. Nothing is written before this passes.
 *
 * @example
 * const spec = parseOrThrow(JobSpecSchema, JSON.parse(body));
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, root?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(fieldIssues(result.error, root));
  return result.data;
}
