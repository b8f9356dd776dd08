/**
 * Create or edit a job: every policy of the spec, a schedule builder that validates as you type
 * (POST /api/schedules/preview) and shows the next fires in the job's time zone, the API's field
 * errors inline, and version conflicts as such. The form is a draft in sessionStorage, so a lost
 * session or a reload does not lose it.
 *
 * This file is the page and its banners; the form's state lives in one hook (job-edit/useJobForm.ts),
 * each fieldset in its own section (job-edit/*Section.tsx).
 */
import { Link, useParams } from 'react-router';
import { useCan, useJob } from '../api/hooks';
import type { JobView } from '../api/types';
import { ErrorBox, QueryView } from '../components/ui';
import { ContactsSection } from './job-edit/ContactsSection';
import { JobSection } from './job-edit/JobSection';
import { PlacementSection } from './job-edit/PlacementSection';
import { PoliciesSection } from './job-edit/PoliciesSection';
import { ScheduleSection } from './job-edit/ScheduleSection';
import { UpstreamSection } from './job-edit/UpstreamSection';
import { useJobForm } from './job-edit/useJobForm';

export default function JobEdit() {
  const { jobId } = useParams();
  const canEdit = useCan('admin');
  const job = useJob(jobId ?? '');
  if (!canEdit) {
    return (
      <section>
        <h1>{jobId ? `Edit ${jobId}` : 'New job'}</h1>
        <p className="state warn">Your role cannot create or change jobs; ask an admin.</p>
      </section>
    );
  }
  if (!jobId) return <JobForm key="new" draftKey="job:new" />;
  return (
    <QueryView query={job} what="the job">
      {(loaded) => <JobForm key={`${jobId}`} draftKey={`job:${jobId}`} existing={loaded} />}
    </QueryView>
  );
}

function JobForm({ existing, draftKey }: { existing?: JobView; draftKey: string }) {
  const { form, update, fieldError, restored, save, apiError, conflict, submit, reloadLatest, discard } =
    useJobForm({ existing, draftKey });

  return (
    <section>
      <div className="page-head">
        <h1>{existing ? `Edit ${existing.spec.jobId}` : 'New job'}</h1>
        {existing && <span className="muted">version {form.version}</span>}
      </div>
      {restored && !save.isSuccess && (
        <p className="state info" role="status">
          Restored your unsaved changes.{' '}
          <button type="button" onClick={discard}>
            Discard them
          </button>
        </p>
      )}
      {conflict && (
        <div className="state error" role="alert">
          <strong>VERSION_CONFLICT</strong> Someone else changed this job after you opened it (you edited
          version {form.version}). {apiError?.message}
          <div className="actions">
            <button type="button" className="primary" onClick={() => void reloadLatest()}>
              Reload the latest version
            </button>
          </div>
          <p className="small">Reloading replaces your edits with what is saved now.</p>
        </div>
      )}
      {save.error && !conflict && <ErrorBox error={save.error} />}
      <form className="job-form" onSubmit={submit} noValidate>
        <JobSection form={form} update={update} fieldError={fieldError} editing={Boolean(existing)} />

        <ScheduleSection form={form} update={update} fieldError={fieldError} />

        <PlacementSection form={form} update={update} fieldError={fieldError} />

        <PoliciesSection form={form} update={update} fieldError={fieldError} />

        <UpstreamSection form={form} update={update} fieldError={fieldError} />

        <ContactsSection
          selected={form.contacts}
          onChange={(contacts) => update({ contacts })}
          error={fieldError('contacts')}
        />

        <div className="actions form-actions">
          <button type="submit" className="primary" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : existing ? 'Save changes' : 'Create job'}
          </button>
          <button type="button" onClick={discard}>
            Cancel
          </button>
          {existing && <Link to={`/jobs/${encodeURIComponent(existing.spec.jobId)}`}>Back to the job</Link>}
        </div>
      </form>
    </section>
  );
}
