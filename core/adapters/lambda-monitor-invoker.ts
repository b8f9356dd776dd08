import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { MonitorInvoker } from '../ports';

/** The event a woken monitor invocation receives (functions/monitor/handler.ts reads it). */
export const WAKE_EVENT = { wake: true } as const;

/**
 * Wakes the monitor Lambda: an asynchronous Invoke (`Event`), which only queues the event — the
 * caller does not wait for the sweep. The caller needs `lambda:InvokeFunction` on that function.
 *
 * @example
 * await new LambdaMonitorInvoker({ client: clients.lambda, functionName: 'clover-prod-monitor' }).invoke();
 */
export class LambdaMonitorInvoker implements MonitorInvoker {
  constructor(private readonly options: { readonly client: LambdaClient; readonly functionName: string }) {}

  async invoke(): Promise<void> {
    await this.options.client.send(
      new InvokeCommand({
        FunctionName: this.options.functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(WAKE_EVENT)),
      }),
    );
  }
}
