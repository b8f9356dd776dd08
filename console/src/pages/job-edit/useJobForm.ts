/**
 * The job form's one piece of state and what acts on it: the draft in sessionStorage (so a lost
 * session or a reload does not lose it), the errors found here and by the API, saving, reloading
 * the latest version after a conflict, and discarding.
 */
import { type FormEvent, useMemo, useState } from 'react';
import { useNavigate } from 'react-router';
import { ApiError } from '../../api/client';
import { useJob, useSaveJob } from '../../api/hooks';
import type { JobView } from '../../api/types';
import { dropDraft, hasDraft, useDraft } from '../../auth/drafts';
import { blankForm, type FormState, formOf, type LocalErrors, specOf } from './form-state';

export function useJobForm({ existing, draftKey }: { existing?: JobView; draftKey: string }) {
  const navigate = useNavigate();
  const restored = useMemo(() => hasDraft(draftKey), [draftKey]);
  const [form, setForm, clearDraft] = useDraft<FormState>(draftKey, () =>
    existing ? formOf(existing) : blankForm(),
  );
  const [localErrors, setLocalErrors] = useState<LocalErrors>({});
  const save = useSaveJob(existing ? { jobId: existing.spec.jobId, version: form.version ?? 1 } : undefined);
  const job = useJob(existing?.spec.jobId ?? '');
  const update = (patch: Partial<FormState>) => setForm({ ...form, ...patch });

  const apiError = save.error instanceof ApiError ? save.error : undefined;
  const conflict = apiError?.code === 'VERSION_CONFLICT';
  const fieldError = (path: string): string | undefined =>
    localErrors[path] ??
    apiError?.fields.find((f) => f.path === path || f.path.startsWith(`${path}.`))?.message;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const { spec, errors } = specOf(form);
    setLocalErrors(errors);
    if (!spec) return;
    save.mutate(spec, {
      onSuccess: (saved) => {
        clearDraft();
        void navigate(`/jobs/${encodeURIComponent(saved.spec.jobId)}`);
      },
    });
  };

  const reloadLatest = async () => {
    const latest = await job.refetch();
    if (latest.data) {
      setForm(formOf(latest.data));
      dropDraft(draftKey);
      save.reset();
    }
  };

  const discard = () => {
    clearDraft();
    void navigate(existing ? `/jobs/${encodeURIComponent(existing.spec.jobId)}` : '/jobs');
  };

  return { form, update, fieldError, restored, save, apiError, conflict, submit, reloadLatest, discard };
}
