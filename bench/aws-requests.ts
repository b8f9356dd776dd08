import type { AwsClients } from '../core/adapters/aws-clients';
import { callLabel } from './aws-timeline';

/** The part of an SDK v3 client's middleware stack the counter uses, the same for every service. */
interface Countable {
  readonly middlewareStack: {
    add(
      middleware: (
        next: (args: { readonly input?: unknown }) => Promise<unknown>,
        context: { readonly commandName?: string },
      ) => (args: { readonly input?: unknown }) => Promise<unknown>,
      options: { readonly step: 'initialize'; readonly name: string },
    ): void;
  };
}

/**
 * Counts the AWS API calls a set of clients makes, by `Service.Operation`, with an SDK middleware.
 * The count is of logical calls (the `initialize` step), so SDK retries are not double-counted;
 * on a loopback emulator there are next to none. Given the stage's prefix, the key also names the
 * table or queue (`DynamoDB.UpdateItem(runs)`, bench/aws-timeline.ts), which the cost model needs.
 */
export class RequestCounter {
  private readonly counts = new Map<string, number>();

  constructor(clients: AwsClients, prefix?: string) {
    const services = {
      DynamoDB: clients.dynamodb,
      SQS: clients.sqs,
      Scheduler: clients.scheduler,
      SES: clients.ses,
    };
    for (const [service, client] of Object.entries(services)) {
      // Each client's stack is typed by its own inputs and outputs; counting needs none of them.
      (client as unknown as Countable).middlewareStack.add(
        (next, context) => (args) => {
          const key =
            prefix === undefined
              ? `${service}.${String(context.commandName).replace(/Command$/, '')}`
              : callLabel(service, context.commandName, args.input, prefix);
          this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
          return next(args);
        },
        { step: 'initialize', name: `clover-bench-count-${service}` },
      );
    }
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
