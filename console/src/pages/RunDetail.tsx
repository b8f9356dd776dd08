import { useEffect, useRef, useState } from 'react';
import { Link, useParams } from 'react-router';
import { useCan, useCancelRun, useRun } from '../api/hooks';
import { isRunActive } from '../api/run-status';
import type { Run, RunLog } from '../api/types';
import { runDuration, runLateness } from '../components/RunTable';
import { ConfirmButton, CopyButton, ErrorBox, MutationError, QueryView, StatusBadge } from '../components/ui';
import { useApi, useServices } from '../context';
import { countOf, formatDuration, formatInstant } from '../format';
import { traceUrl } from '../trace-link';

export default function RunDetail() {
  const { runId = '' } = useParams();
  const run = useRun(runId);
  return (
    <QueryView query={run} what="the run">
      {(loaded) => <RunPage run={loaded} />}
    </QueryView>
  );
}

function RunPage({ run }: { run: Run }) {
  const canCancel = useCan('operator');
  const cancel = useCancelRun(run.runId);
  const active = isRunActive(run);
  const percent = run.progress?.percent ?? (run.status === 'SUCCEEDED' ? 100 : 0);
  return (
    <section>
      <div className="page-head">
        <h1>
          Run of <Link to={`/jobs/${encodeURIComponent(run.jobId)}`}>{run.jobId}</Link>{' '}
          <StatusBadge status={run.status} />
        </h1>
        {canCancel && active && (
          <ConfirmButton
            label={run.cancelRequested ? 'Cancel requested…' : 'Cancel run'}
            danger
            disabled={cancel.isPending || run.cancelRequested}
            title="Cancel this run?"
            body={
              <p>
                The worker is told to stop; the handler sees its cancel signal and the run ends CANCELLED.
              </p>
            }
            confirmLabel="Cancel the run"
            onConfirm={() => cancel.mutate()}
          />
        )}
      </div>
      <MutationError error={cancel.error} />
      <p className="muted small">
        <code>{run.runId}</code>
      </p>
      <div className="progress-row">
        <label htmlFor="run-progress">Progress</label>
        <progress id="run-progress" max={100} value={percent} aria-valuetext={`${percent} %`} />
        <span data-testid="progress-percent">{Math.round(percent)} %</span>
        {run.progress?.message && <span className="muted">{run.progress.message}</span>}
      </div>
      <dl className="facts">
        <dt>Scheduled</dt>
        <dd>{formatInstant(run.scheduledTime)}</dd>
        <dt>Trigger</dt>
        <dd>{run.trigger}</dd>
        <dt>Handler</dt>
        <dd>
          <code>{run.handler}</code>
        </dd>
        <dt>Worker</dt>
        <dd>{run.workerId ?? '—'}</dd>
        <dt>Attempt</dt>
        <dd>{run.attempt}</dd>
        <dt>Started</dt>
        <dd>
          {formatInstant(run.startedAt)}{' '}
          {runLateness(run) !== undefined && <>(late by {formatDuration(runLateness(run))})</>}
        </dd>
        <dt>Duration</dt>
        <dd>{formatDuration(runDuration(run))}</dd>
        {run.traceId && (
          <>
            <dt>Trace</dt>
            <dd>
              <RunTrace traceId={run.traceId} />
            </dd>
          </>
        )}
        {run.reason && (
          <>
            <dt>Reason</dt>
            <dd>{run.reason}</dd>
          </>
        )}
        {run.nextAttemptAt && (
          <>
            <dt>Next attempt</dt>
            <dd>{formatInstant(run.nextAttemptAt)}</dd>
          </>
        )}
      </dl>
      <RunChain run={run} />
      {run.error && (
        <section className="run-error" aria-label="Error">
          <h2>Error</h2>
          <p>
            <strong>{run.error.code}</strong> {run.error.message}
          </p>
          {run.error.stack && <pre className="stack">{run.error.stack}</pre>}
        </section>
      )}
      {run.result !== undefined && (
        <section aria-label="Result">
          <h2>Result</h2>
          <pre className="result" data-testid="result">
            {JSON.stringify(run.result, null, 2)}
          </pre>
        </section>
      )}
      <h2>Log</h2>
      <LogTail runId={run.runId} />
      <h2>History</h2>
      <ol className="history">
        {run.history.map((h) => (
          <li key={`${h.at}-${h.status}-${h.attempt}`}>
            <time dateTime={new Date(h.at).toISOString()}>{formatInstant(h.at)}</time>{' '}
            <StatusBadge status={h.status} /> attempt {h.attempt}
            {h.workerId && <> on {h.workerId}</>}
            {h.note && <span className="muted"> — {h.note}</span>}
          </li>
        ))}
      </ol>
    </section>
  );
}

/**
 * The fire's trace id (the same id in the dispatcher's, the agent's and the handler's log lines),
 * copyable; in a deployed stage also a link to its X-Ray trace (trace-link.ts).
 */
function RunTrace({ traceId }: { traceId: string }) {
  const url = traceUrl(useServices().config, traceId);
  return (
    <>
      <code data-testid="trace-id">{traceId}</code> <CopyButton text={traceId} what="trace id" />
      {url && (
        <>
          {' '}
          <a href={url} target="_blank" rel="noreferrer">
            Open the trace in CloudWatch
          </a>
        </>
      )}
    </>
  );
}

function RunLink({ runId }: { runId: string }) {
  return (
    <Link to={`/runs/${encodeURIComponent(runId)}`}>
      <code>{runId}</code>
    </Link>
  );
}

/** A dependent run's upstream runs, and the runs this one's outcome fired (docs/dependent-jobs.md). */
function RunChain({ run }: { run: Run }) {
  const upstream = run.upstream ?? [];
  const downstream = run.downstreamRuns ?? [];
  if (!run.chainId && upstream.length === 0 && downstream.length === 0) return null;
  return (
    <section aria-label="Chain">
      <h2>Chain</h2>
      <dl className="facts">
        {run.chainId && (
          <>
            <dt>Started by</dt>
            <dd>
              <RunLink runId={run.chainId} />
            </dd>
          </>
        )}
        {upstream.length > 0 && (
          <>
            <dt>After</dt>
            <dd>
              <ul className="plain">
                {upstream.map((u) => (
                  <li key={u.runId}>
                    <RunLink runId={u.runId} /> <StatusBadge status={u.status} />
                  </li>
                ))}
              </ul>
            </dd>
          </>
        )}
        {downstream.length > 0 && (
          <>
            <dt>Fired</dt>
            <dd>
              <ul className="plain">
                {downstream.map((runId) => (
                  <li key={runId}>
                    <RunLink runId={runId} />
                  </li>
                ))}
              </ul>
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}

/** Follows the run's log: polls from the last cursor until the API says the log is complete. */
function LogTail({ runId }: { runId: string }) {
  const api = useApi();
  const [lines, setLines] = useState<RunLog['lines']>([]);
  const [complete, setComplete] = useState(false);
  const [error, setError] = useState<unknown>();
  const box = useRef<HTMLDivElement>(null);
  const follow = useRef(true);

  useEffect(() => {
    let cursor: string | undefined;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    setLines([]);
    setComplete(false);
    const poll = async () => {
      try {
        const page = await api.get<RunLog>(`/api/runs/${encodeURIComponent(runId)}/log`, { cursor });
        if (stopped) return;
        cursor = page.nextCursor;
        setError(undefined);
        if (page.lines.length) setLines((prev) => [...prev, ...page.lines]);
        if (page.complete) {
          setComplete(true);
          return;
        }
      } catch (e) {
        if (stopped) return;
        setError(e);
      }
      timer = setTimeout(() => void poll(), 1000);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [api, runId]);

  useEffect(() => {
    if (follow.current && box.current && lines.length) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);

  return (
    <div className="log">
      {error !== undefined && <ErrorBox error={error} />}
      <div
        ref={box}
        className="log-lines"
        role="log"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable log must take focus so keyboard users can scroll it
        tabIndex={0}
        aria-label="Run log"
        data-testid="log"
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {lines.length === 0 ? (
          <span className="muted">
            {complete ? 'This run wrote no log lines.' : 'Waiting for log lines…'}
          </span>
        ) : (
          lines.map((line) => <div key={line.index}>{line.message}</div>)
        )}
      </div>
      <p className="muted small" aria-live="polite">
        {`${countOf(lines.length, 'line')}${complete ? ', complete.' : ' so far, following…'}`}
      </p>
    </div>
  );
}
