/** The schedule builder's presets, as expressions in AWS's syntax (what EventBridge Scheduler holds). */
export const PRESETS = {
  minutes: 'Every N minutes',
  daily: 'Daily at',
  weekdays: 'Weekdays at',
  lastDay: 'Last day of the month at',
} as const;
export type Preset = keyof typeof PRESETS;

export function presetExpression(preset: Preset, minutes: number, time: string): string {
  const [h = '0', m = '0'] = time.split(':');
  const hour = Number(h);
  const minute = Number(m);
  switch (preset) {
    case 'minutes':
      return minutes === 1 ? 'rate(1 minute)' : `rate(${minutes} minutes)`;
    case 'daily':
      return `cron(${minute} ${hour} * * ? *)`;
    case 'weekdays':
      return `cron(${minute} ${hour} ? * MON-FRI *)`;
    case 'lastDay':
      return `cron(${minute} ${hour} L * ? *)`;
  }
}
