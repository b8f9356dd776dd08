/**
 * One query hook per server resource, over one key factory, so a mutation invalidates exactly what it
 * changed. Live pages (a running run, its log, the workers) poll; the rest refetch on focus.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useApi, useSession } from '../context';
import type { Query } from './client';
import { isRunActive } from './run-status';
import type {
  AlertListQueryInput,
  AlertRecord,
  AuditListQueryInput,
  AuditRecord,
  ChannelChange,
  Contact,
  ContactView,
  ErrorSearchQueryInput,
  ErrorSearchResult,
  JobListQueryInput,
  JobPage,
  JobSpecInput,
  JobView,
  Me,
  Page,
  Role,
  Run,
  RunListQueryInput,
  RunSummary,
  SchedulePreview,
  SchedulePreviewBody,
  Silence,
  SilenceSpecInput,
  Stats,
  TriggerResponse,
  WorkerView,
} from './types';

export const keys = {
  me: ['me'] as const,
  jobs: (q: JobListQueryInput) => ['jobs', q] as const,
  job: (jobId: string) => ['job', jobId] as const,
  runs: (q: RunListQueryInput) => ['runs', q] as const,
  run: (runId: string) => ['run', runId] as const,
  workers: ['workers'] as const,
  contacts: ['contacts'] as const,
  alerts: (q: AlertListQueryInput) => ['alerts', q] as const,
  silences: ['silences'] as const,
  stats: (q: { from?: string; to?: string; jobId?: string }) => ['stats', q] as const,
  audit: (q: AuditListQueryInput) => ['audit', q] as const,
  errors: (q: ErrorSearchQueryInput) => ['errors', q] as const,
  preview: (body: SchedulePreviewBody) => ['preview', body] as const,
};

const enc = encodeURIComponent;
const asQuery = (q: object): Query => q as Query;

export function useMe() {
  const api = useApi();
  const session = useSession();
  return useQuery({
    queryKey: [...keys.me, session?.token],
    queryFn: () => api.get<Me>('/api/me'),
    enabled: Boolean(session),
    staleTime: 60_000,
  });
}

const RANK: Readonly<Record<Role, number>> = { viewer: 0, operator: 1, admin: 2 };

/** Whether the signed-in user's role is at least `needed`. The API enforces it anyway. */
export function useCan(needed: Role): boolean {
  const role = useMe().data?.role;
  return role !== undefined && RANK[role] >= RANK[needed];
}

export function useJobs(q: JobListQueryInput) {
  const api = useApi();
  return useQuery({
    queryKey: keys.jobs(q),
    queryFn: () => api.get<JobPage>('/api/jobs', asQuery(q)),
    placeholderData: keepPreviousData,
  });
}

export function useJob(jobId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.job(jobId),
    queryFn: () => api.get<JobView>(`/api/jobs/${enc(jobId)}`),
    enabled: jobId !== '',
  });
}

export function useRuns(q: RunListQueryInput, live = false) {
  const api = useApi();
  return useQuery({
    queryKey: keys.runs(q),
    queryFn: () => api.get<Page<RunSummary>>('/api/runs', asQuery(q)),
    placeholderData: keepPreviousData,
    refetchInterval: live ? 3000 : false,
  });
}

export function useRun(runId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.run(runId),
    queryFn: () => api.get<Run>(`/api/runs/${enc(runId)}`),
    refetchInterval: (query) => (query.state.data && !isRunActive(query.state.data) ? false : 1000),
  });
}

export function useWorkers() {
  const api = useApi();
  return useQuery({
    queryKey: keys.workers,
    queryFn: () => api.get<Page<WorkerView> | WorkerView[]>('/api/workers'),
    select: (data) => (Array.isArray(data) ? data : data.items),
    refetchInterval: 5000,
  });
}

export function useContacts() {
  const api = useApi();
  return useQuery({
    queryKey: keys.contacts,
    queryFn: () => api.get<Page<ContactView>>('/api/contacts', { limit: 200 }),
  });
}

export function useAlerts(q: AlertListQueryInput) {
  const api = useApi();
  return useQuery({
    queryKey: keys.alerts(q),
    queryFn: () => api.get<Page<AlertRecord>>('/api/alerts', asQuery(q)),
    placeholderData: keepPreviousData,
  });
}

export function useSilences() {
  const api = useApi();
  return useQuery({
    queryKey: keys.silences,
    queryFn: () => api.get<{ items: Silence[] }>('/api/silences'),
  });
}

/** Alert actions: each refreshes the alert lists, the silences and the audit trail afterwards. */
export function useAlertActions() {
  const api = useApi();
  const client = useQueryClient();
  const settle = async () => {
    await Promise.all([
      client.invalidateQueries({ queryKey: ['alerts'] }),
      client.invalidateQueries({ queryKey: keys.silences }),
      client.invalidateQueries({ queryKey: ['audit'] }),
    ]);
  };
  return {
    acknowledge: useMutation({
      mutationFn: (alertId: string) => api.post<AlertRecord>(`/api/alerts/${enc(alertId)}/acknowledge`, {}),
      onSettled: settle,
    }),
    silence: useMutation({
      mutationFn: (spec: SilenceSpecInput) => api.post<Silence>('/api/silences', spec),
      onSettled: settle,
    }),
    unsilence: useMutation({
      mutationFn: (silenceId: string) => api.delete(`/api/silences/${enc(silenceId)}`),
      onSettled: settle,
    }),
  };
}

export function useStats(q: { from?: string; to?: string; jobId?: string }) {
  const api = useApi();
  return useQuery({
    queryKey: keys.stats(q),
    queryFn: () => api.get<Stats>('/api/stats', asQuery(q)),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
}

export function useAudit(q: AuditListQueryInput) {
  const api = useApi();
  return useQuery({
    queryKey: keys.audit(q),
    queryFn: () => api.get<Page<AuditRecord>>('/api/audit', asQuery(q)),
    placeholderData: keepPreviousData,
  });
}

export function useErrorSearch(q: ErrorSearchQueryInput | undefined) {
  const api = useApi();
  return useQuery({
    queryKey: keys.errors(q ?? { q: '' }),
    queryFn: () => api.get<ErrorSearchResult>('/api/search/errors', asQuery(q ?? {})),
    enabled: Boolean(q?.q),
    placeholderData: keepPreviousData,
  });
}

export function useSchedulePreview(body: SchedulePreviewBody | undefined) {
  const api = useApi();
  return useQuery({
    queryKey: keys.preview(body ?? { expression: '' }),
    queryFn: () => api.post<SchedulePreview>('/api/schedules/preview', body),
    enabled: Boolean(body?.expression),
    retry: false,
    placeholderData: keepPreviousData,
  });
}

/** Job actions: each refreshes the job, the lists and the audit trail afterwards. */
export function useJobActions(jobId: string) {
  const api = useApi();
  const client = useQueryClient();
  const settle = async () => {
    await Promise.all([
      client.invalidateQueries({ queryKey: keys.job(jobId) }),
      client.invalidateQueries({ queryKey: ['jobs'] }),
      client.invalidateQueries({ queryKey: ['runs'] }),
      client.invalidateQueries({ queryKey: ['audit'] }),
    ]);
  };
  const path = `/api/jobs/${enc(jobId)}`;
  return {
    pause: useMutation({ mutationFn: () => api.post<JobView>(`${path}/pause`), onSettled: settle }),
    resume: useMutation({ mutationFn: () => api.post<JobView>(`${path}/resume`), onSettled: settle }),
    trigger: useMutation({
      mutationFn: () => api.post<TriggerResponse>(`${path}/trigger`, {}),
      onSettled: settle,
    }),
    remove: useMutation({
      mutationFn: (version: number) => api.delete(path, { version }),
      onSettled: settle,
    }),
  };
}

export function useSaveJob(existing?: { jobId: string; version: number }) {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (spec: JobSpecInput) =>
      existing
        ? api.put<JobView>(`/api/jobs/${enc(existing.jobId)}`, { version: existing.version, spec })
        : api.post<JobView>('/api/jobs', spec),
    onSuccess: async (job) => {
      client.setQueryData(keys.job(job.spec.jobId), job);
      await client.invalidateQueries({ queryKey: ['jobs'] });
      await client.invalidateQueries({ queryKey: ['audit'] });
    },
  });
}

export function useCancelRun(runId: string) {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => api.post<Run>(`/api/runs/${enc(runId)}/cancel`),
    onSettled: () => client.invalidateQueries({ queryKey: keys.run(runId) }),
  });
}

export function useDrainWorker() {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (workerId: string) => api.post<WorkerView>(`/api/workers/${enc(workerId)}/drain`),
    onSettled: () => client.invalidateQueries({ queryKey: keys.workers }),
  });
}

/** A contact as the form sends it: channels of an existing contact may leave out `url` to keep it. */
export type ContactInput = Omit<Contact, 'channels'> & { channels: ChannelChange[] };

export function useSaveContact(existingId?: string) {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (contact: ContactInput) => {
      if (!existingId) return api.post<ContactView>('/api/contacts', contact);
      const { contactId: _id, ...rest } = contact;
      return api.put<ContactView>(`/api/contacts/${enc(existingId)}`, rest);
    },
    onSuccess: () => client.invalidateQueries({ queryKey: keys.contacts }),
  });
}

export function useDeleteContact() {
  const api = useApi();
  const client = useQueryClient();
  return useMutation({
    mutationFn: (contactId: string) => api.delete(`/api/contacts/${enc(contactId)}`),
    onSettled: () => client.invalidateQueries({ queryKey: keys.contacts }),
  });
}
