/** `clover workers list|drain`. */
import type { ResponseOf } from './client';
import { type ActionDef, group } from './command';
import { EXIT_OK } from './io';
import { type Column, formatDuration, formatLabels } from './table';

type WorkerView = ResponseOf<'listWorkers'>['items'][number];

const COLUMNS: readonly Column<WorkerView>[] = [
  { header: 'WORKER', value: (w) => w.workerId },
  { header: 'POOL', value: (w) => w.pool },
  { header: 'STATUS', value: (w) => w.status + (w.status === 'ACTIVE' && !w.live ? ' (lease expired)' : '') },
  { header: 'RUNNING', value: (w) => `${w.running}/${w.capacity}`, right: true },
  { header: 'LEASE AGE', value: (w) => formatDuration(w.leaseAgeMs), right: true },
  { header: 'HOST', value: (w) => w.host, shrink: 12 },
  { header: 'LABELS', value: (w) => formatLabels(w.labels), shrink: 12 },
  { header: 'HANDLERS', value: (w) => w.handlers.join(','), shrink: 16 },
];

const list: ActionDef = {
  name: 'list',
  summary: 'list workers with pool, status, load and lease age',
  synopsis: '[--pool POOL]',
  description:
    'List the workers holding, or recently holding, a lease: pool, status (ACTIVE, DRAINING, GONE), running/capacity, time since the last heartbeat, host, labels and handlers.',
  options: { pool: { type: 'string' } },
  optionHelp: '  --pool POOL     Only this pool',
  args: [],
  async run(ctx) {
    const page = await ctx.client.call('listWorkers', { query: { pool: ctx.string('pool') } });
    ctx.print(page, () => (page.items.length ? ctx.table(COLUMNS, page.items) : ['No workers.']));
    return EXIT_OK;
  },
};

const drain: ActionDef = {
  name: 'drain',
  summary: 'drain a worker: it finishes what it runs and takes nothing new',
  synopsis: 'WORKER',
  description:
    'Drain a worker: it finishes the runs it holds and is given nothing new. Needs the operator role.',
  args: ['WORKER'],
  async run(ctx) {
    const worker = await ctx.client.call('drainWorker', { params: { workerId: ctx.arg(0) } });
    ctx.print(worker, () => [`${worker.workerId}: ${worker.status} (${worker.running} running)`]);
    return EXIT_OK;
  },
};

export const workersCommand = group(
  'workers',
  'list workers, drain one',
  'List the worker fleet; drain a worker.',
  [list, drain],
);
