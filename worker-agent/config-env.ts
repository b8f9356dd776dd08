import type { SettingKey } from './config-schema';

/** The environment variable for each overridable setting; labels are `k=v,k2=v2`. */
export const AGENT_ENV_VARS: Readonly<Record<SettingKey, string>> = {
  workerId: 'CLOVER_AGENT_WORKER_ID',
  pool: 'CLOVER_AGENT_POOL',
  labels: 'CLOVER_AGENT_LABELS',
  capacity: 'CLOVER_AGENT_CAPACITY',
  priority: 'CLOVER_AGENT_PRIORITY',
  heartbeatIntervalSeconds: 'CLOVER_AGENT_HEARTBEAT_INTERVAL_SECONDS',
  leaseTtlSeconds: 'CLOVER_AGENT_LEASE_TTL_SECONDS',
  drainGraceSeconds: 'CLOVER_AGENT_DRAIN_GRACE_SECONDS',
  journalDir: 'CLOVER_AGENT_JOURNAL_DIR',
};

/** Environment variable naming the config file when no `--config` flag is given. */
export const AGENT_CONFIG_ENV_VAR = 'CLOVER_AGENT_CONFIG';

const numericSettings = new Set<SettingKey>([
  'capacity',
  'priority',
  'heartbeatIntervalSeconds',
  'leaseTtlSeconds',
  'drainGraceSeconds',
]);

/** Turns an env string into what the schema expects; unparsable values pass through so the schema names them. */
export function envValue(key: SettingKey, value: string): unknown {
  if (numericSettings.has(key)) {
    const n = Number(value);
    return value.trim() === '' || Number.isNaN(n) ? value : n;
  }
  if (key === 'labels') return parseLabels(value);
  return value;
}

/** `zone=a, tier=batch` → { zone: 'a', tier: 'batch' }. A pair without `=` is kept as a key with '' . */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const trimmed = pair.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    if (eq < 0) labels[trimmed] = '';
    else labels[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1).trim();
  }
  return labels;
}

/** `heartbeatIntervalSeconds` → `heartbeat-interval-seconds`: the flag that sets a setting. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
