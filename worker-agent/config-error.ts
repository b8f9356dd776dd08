import { CloverError } from '../core/errors';

/** Where a setting's value came from; errors name it. */
export type SettingOrigin = 'file' | 'env' | 'flag';

/** One problem with the config: where (file and line, or env var / flag) and which field. */
export interface ConfigIssue {
  readonly origin: SettingOrigin;
  /** The config file, for file issues (as the user named it); the env var or `--flag` otherwise. */
  readonly location: string;
  readonly line: number | undefined;
  readonly field: string;
  readonly reason: string;
}

function formatIssue(issue: ConfigIssue): string {
  const where = issue.line === undefined ? issue.location : `${issue.location}:${issue.line}`;
  return `${where}: ${issue.field}: ${issue.reason}`;
}

/**
 * The config could not be read or is invalid. `file`, `line`, `field` and `reason` describe the first
 * problem; `issues` lists all of them. The CLI prints the message and exits 2.
 */
export class ConfigError extends CloverError {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly field: string;
  readonly reason: string;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly [ConfigIssue, ...ConfigIssue[]], options: { cause?: unknown } = {}) {
    const first = issues[0];
    super('validation_failed', issues.map(formatIssue).join('\n'), {
      cause: options.cause,
      details: { issues },
    });
    this.file = first.origin === 'file' ? first.location : undefined;
    this.line = first.line;
    this.field = first.field;
    this.reason = first.reason;
    this.issues = issues;
  }
}
