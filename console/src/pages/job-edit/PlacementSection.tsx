/** Where the job runs: its mode, delivery, pool, routing, labels and pinned workers. */
import { DELIVERIES, MODES, ROUTINGS } from './choices';
import { binder, Select, TextField } from './controls';
import type { SectionProps } from './form-state';

export function PlacementSection(props: SectionProps) {
  const bind = binder(props);
  return (
    <fieldset>
      <legend>Where it runs</legend>
      <Select label="Mode" options={MODES} {...bind('mode')} />
      <Select label="Delivery" options={DELIVERIES} {...bind('delivery')} />
      <TextField label="Pool" {...bind('pool', 'target.pool')} />
      <Select label="Routing" options={ROUTINGS} {...bind('routing')} />
      <TextField
        label="Labels"
        hint="one key=value a line; a worker must have all"
        rows={2}
        {...bind('labels', 'target.labels')}
      />
      <TextField
        label="Pinned workers"
        hint="worker ids, comma separated"
        {...bind('workerIds', 'target.workerIds')}
      />
    </fieldset>
  );
}
