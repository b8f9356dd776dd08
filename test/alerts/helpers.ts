/**
 * The alerts path on the emulator for integration tests: the notifier Lambda handler fed from the
 * real alerts queue, mailing through SES on moto, and a loopback HTTP receiver for webhook and chat
 * channels.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';
import { VerifyEmailIdentityCommand } from '@aws-sdk/client-ses';
import { SesMailer } from '../../core/adapters/ses-mailer';
import { Notifier, type NotifierConfig } from '../../core/notify';
import type { Clock } from '../../core/ports';
import { makeNotifierHandler } from '../../functions/notifier/handler';
import type { ApiHandle } from '../api/helpers';
import { eventSourcePass } from '../harness/sqs-event-source';

export const FROM = 'clover-hooks@example.com';

export interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
}

/** An HTTP receiver on loopback: answers each path from its script (then 200) and keeps every request. */
export async function startReceiver() {
  const received: Received[] = [];
  const scripts = new Map<string, { status: number; body?: string }[]>();
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      const path = req.url ?? '';
      const next = scripts.get(path)?.shift() ?? { status: 200 };
      received.push({ path, headers: req.headers, body, status: next.status });
      res.writeHead(next.status, { 'content-type': 'text/plain' }).end(next.body ?? 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    at: (path: string) => received.filter((r) => r.path === path),
    script: (path: string, ...answers: { status: number; body?: string }[]) => scripts.set(path, answers),
  };
}

/**
 * A Notifier over the API's control plane (the same alert store, queue, contacts and jobs), with
 * `deliverAlerts()` standing in for the SQS event source.
 */
export async function notifierWorld(api: ApiHandle, config: Partial<NotifierConfig> = {}, clock?: Clock) {
  await api.ready();
  const { plane, aws } = api;
  const stack = await aws.provisioned();
  await aws.clients.ses.send(new VerifyEmailIdentityCommand({ EmailAddress: FROM }));
  const notifier = new Notifier({
    alerts: plane.alertStore,
    queue: plane.alertQueue,
    contacts: plane.contacts,
    jobs: plane.jobs,
    mailer: new SesMailer({ client: aws.clients.ses }),
    channels: plane.channelSender,
    clock: clock ?? plane.clock,
    log: plane.log,
    config: { from: FROM, consoleUrl: 'https://console.example.com', channelBackoffMs: 50, ...config },
  });
  const notify = makeNotifierHandler({ notifier, log: plane.log });
  return {
    plane,
    notifier,
    admin: api.as('admin'),
    /** One pass of the SQS event source over what the alerts queue holds now; the batch failures it reported. */
    async deliverAlerts(): Promise<{ delivered: number; failures: number }> {
      // Failed alerts are dropped rather than redelivered: the tests of a file share one queue.
      const { delivered, failures } = await eventSourcePass(aws.clients.sqs, stack.queues.alerts, notify, {
        deleteFailed: true,
      });
      return { delivered, failures };
    },
  };
}
