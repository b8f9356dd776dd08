import { Link, useNavigate, useParams } from 'react-router';
import { ALL_KINDS, KINDS } from '../alert-kinds';
import { useAlerts, useAudit, useCan, useJob, useJobActions, useRuns } from '../api/hooks';
import type { AudienceVia, JobView } from '../api/types';
import { AlertTable } from '../components/AlertTable';
import { AuditTable } from '../components/AuditTable';
import { RunTable } from '../components/RunTable';
import { RunTimeline } from '../components/RunTimeline';
import { Badge, ConfirmButton, Empty, MutationError, QueryView } from '../components/ui';
import { countOf, formatInstant } from '../format';

export default function JobDetail() {
  const { jobId = '' } = useParams();
  const job = useJob(jobId);
  return (
    <QueryView query={job} what="the job">
      {(loaded) => <JobPage job={loaded} />}
    </QueryView>
  );
}

function JobPage({ job }: { job: JobView }) {
  const { spec } = job;
  const navigate = useNavigate();
  const canOperate = useCan('operator');
  const canAdmin = useCan('admin');
  const actions = useJobActions(spec.jobId);
  const runs = useRuns({ jobId: spec.jobId, limit: 50 }, true);
  const alerts = useAlerts({ jobId: spec.jobId, limit: 20 });
  const audit = useAudit({ entity: `job:${spec.jobId}`, limit: 20 });
  const zone = spec.schedule?.timezone;
  const busy = Object.values(actions).some((m) => m.isPending);
  const lastError = Object.values(actions).find((m) => m.error)?.error;

  return (
    <section>
      <div className="page-head">
        <h1>
          {spec.jobId} {spec.paused ? <Badge tone="warn">paused</Badge> : <Badge tone="good">active</Badge>}
          {job.syncState === 'OUT_OF_SYNC' && <Badge tone="bad">schedule out of sync</Badge>}
        </h1>
        <div className="actions">
          {canOperate &&
            (spec.paused ? (
              <button type="button" disabled={busy} onClick={() => actions.resume.mutate()}>
                Resume
              </button>
            ) : (
              <button type="button" disabled={busy} onClick={() => actions.pause.mutate()}>
                Pause
              </button>
            ))}
          {canOperate && (
            <button
              type="button"
              className="primary"
              disabled={busy}
              onClick={() =>
                actions.trigger.mutate(undefined, {
                  onSuccess: (out) => navigate(`/runs/${encodeURIComponent(out.runId)}`),
                })
              }
            >
              Trigger now
            </button>
          )}
          {canAdmin && (
            <Link className="button" to={`/jobs/${encodeURIComponent(spec.jobId)}/edit`}>
              Edit
            </Link>
          )}
          {canAdmin && (
            <ConfirmButton
              label="Delete"
              danger
              disabled={busy}
              title={`Delete ${spec.jobId}?`}
              body={<p>Its schedule is removed and it will not fire again. Its runs stay in the history.</p>}
              confirmLabel="Delete the job"
              onConfirm={() => actions.remove.mutate(job.version, { onSuccess: () => navigate('/jobs') })}
            />
          )}
        </div>
      </div>
      <MutationError error={lastError} />
      {job.dependencyProblems?.map((problem) => (
        <p key={problem.jobId} className="state warn" role="alert">
          {problem.reason}
        </p>
      ))}
      {spec.description && <p>{spec.description}</p>}
      <dl className="facts">
        <dt>Handler</dt>
        <dd>
          <code>{spec.handler}</code>
        </dd>
        <dt>Schedule</dt>
        <dd>
          {spec.schedule ? (
            <>
              <code>{spec.schedule.expression}</code> in {spec.schedule.timezone}
            </>
          ) : (
            'manual only'
          )}
        </dd>
        <dt>Next fires</dt>
        <dd>
          {job.nextFires?.length ? (
            <ol className="fires inline">
              {job.nextFires.slice(0, 3).map((f) => (
                <li key={f}>{formatInstant(f, zone)}</li>
              ))}
            </ol>
          ) : (
            <span className="muted">{spec.paused ? 'none while paused' : 'none scheduled'}</span>
          )}
        </dd>
        <dt>Runs on</dt>
        <dd>
          {spec.mode} · {spec.delivery} · pool <b>{spec.target.pool}</b> · {spec.routing}
          {Object.keys(spec.target.labels).length > 0 &&
            ` · labels ${Object.entries(spec.target.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(', ')}`}
          {spec.target.workerIds.length > 0 && ` · pinned to ${spec.target.workerIds.join(', ')}`}
        </dd>
        <dt>Policies</dt>
        <dd>
          concurrency {spec.concurrency.policy} · misfire {spec.misfire.policy} ({spec.misfire.windowSeconds}{' '}
          s) · {countOf(spec.retry.maxAttempts, 'attempt')} · timeout {spec.timeoutSeconds} s ·{' '}
          {spec.recoverOnWorkerLoss ? 'recovers' : 'does not recover'} on worker loss
        </dd>
        <dt>Alerts go to</dt>
        <dd>
          <AlertsGoTo job={job} />
        </dd>
        {spec.group && (
          <>
            <dt>Group</dt>
            <dd>{spec.group}</dd>
          </>
        )}
        {spec.after.length > 0 && (
          <>
            <dt>Runs after</dt>
            <dd>
              {spec.after.map((d, i) => (
                <span key={d.jobId}>
                  {i > 0 && ', '}
                  <Link to={`/jobs/${encodeURIComponent(d.jobId)}`}>{d.jobId}</Link> {d.on.toLowerCase()}
                </span>
              ))}
              {spec.waitFor === 'ALL' && spec.after.length > 1 && ' · waits for all, once per chain'}
            </dd>
          </>
        )}
        {job.downstream?.length ? (
          <>
            <dt>Fires</dt>
            <dd>
              {job.downstream.map((id, i) => (
                <span key={id}>
                  {i > 0 && ', '}
                  <Link to={`/jobs/${encodeURIComponent(id)}`}>{id}</Link>
                </span>
              ))}
            </dd>
          </>
        ) : null}
        <dt>Version</dt>
        <dd>
          {job.version}, updated {formatInstant(job.updatedAt)}
          {job.owner && <> · declared by {job.owner}</>}
        </dd>
      </dl>

      <h2>Runs</h2>
      <QueryView query={runs} what="runs">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No runs yet.{canOperate && ' Trigger it to see one here.'}</Empty>
          ) : (
            <>
              <RunTimeline runs={page.items} />
              <RunTable runs={page.items} showJob={false} />
            </>
          )
        }
      </QueryView>

      <h2>Alerts</h2>
      <QueryView query={alerts} what="alerts">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No alerts for this job.</Empty>
          ) : (
            <AlertTable alerts={page.items} showJob={false} />
          )
        }
      </QueryView>

      <h2>Audit trail</h2>
      <QueryView query={audit} what="the audit trail">
        {(page) =>
          page.items.length === 0 ? <Empty>No recorded changes.</Empty> : <AuditTable records={page.items} />
        }
      </QueryView>
    </section>
  );
}

const VIA: Readonly<Record<AudienceVia, string>> = {
  contacts: 'named by this job',
  group: 'subscribes to its group',
  'job-subscription': 'subscribed to this job',
  'group-subscription': 'subscribed to its group',
};

/** Where this job's alerts go (the API works it out as the notifier does), and named contacts that do not exist. */
function AlertsGoTo({ job }: { job: JobView }) {
  const members = job.alertsGoTo ?? [];
  const missing = job.spec.contacts.filter((id) => !members.some((m) => m.contactId === id));
  if (members.length === 0 && missing.length === 0)
    return (
      <span className="muted">
        nobody: the job names no contact and no contact subscribes to it
        {job.spec.group ? ' or its group' : ''}
      </span>
    );
  return (
    <ul className="audience">
      {members.map((m) => (
        <li key={m.contactId}>
          <Link to="/contacts">{m.name}</Link> &lt;{m.email}&gt;
          {m.channels.length > 0 && <> and {m.channels.join(', ')}</>}{' '}
          <span className="muted small">
            — {m.via.map((v) => VIA[v]).join(', ')};{' '}
            {m.alertKinds.length === ALL_KINDS.length
              ? 'every alert kind'
              : m.alertKinds.map((k) => KINDS[k]).join(', ')}
          </span>
        </li>
      ))}
      {missing.map((id) => (
        <li key={id}>
          <code>{id}</code> <Badge tone="warn">no such contact</Badge>
        </li>
      ))}
    </ul>
  );
}
