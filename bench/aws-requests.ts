import type { AwsClients } from '../core/adapters/aws-clients';
import { callLabel, onEveryCall } from './aws-timeline';

/**
 * Counts the AWS API calls a set of clients makes, by `Service.Operation`, with an SDK middleware.
 * The count is of logical calls (the `initialize` step), so SDK retries are not double-counted;
 * on a loopback emulator there are next to none. Given the stage's prefix, the key also names the
 * table or queue (`DynamoDB.UpdateItem(runs)`, bench/aws-timeline.ts), which the cost model needs.
 */
export class RequestCounter {
  private readonly counts = new Map<string, number>();

  constructor(clients: AwsClients, prefix?: string) {
    onEveryCall(
      clients,
      'count',
      (service) => (next, context) => (args) => {
        const key =
          prefix === undefined
            ? `${service}.${String(context.commandName).replace(/Command$/, '')}`
            : callLabel(service, context.commandName, args.input, prefix);
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
        return next(args);
      },
      // Lambda: a monitor woken by Invoke is a request too (core/adapters/lambda-monitor-invoker.ts).
      { ses: true, lambda: true },
    );
  }

  reset(): void {
    this.counts.clear();
  }

  total(): number {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort());
  }
}
