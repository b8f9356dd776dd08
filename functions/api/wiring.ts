import type { ControlPlane } from '../../core/adapters/control-plane';
import { ManagementApi } from '../../core/api/service';
import { syncDeclaredJobs } from '../../worker-agent/job-sync';

/**
 * The management API's use cases over one control plane. The declared-job sync is the agent's own
 * (worker-agent/job-sync.ts), run here on the agent's behalf, so ownership rules are the same code
 * whichever path an agent takes.
 */
export function managementApi(plane: ControlPlane): ManagementApi {
  return new ManagementApi({
    jobService: plane.jobService,
    jobs: plane.jobs,
    runs: plane.runs,
    dispatcher: plane.dispatcher,
    workers: plane.workers,
    contacts: plane.contacts,
    contactStore: plane.contactStore,
    alerts: plane.alertStore,
    reads: plane.apiReads,
    audit: plane.apiReads,
    clock: plane.clock,
    log: plane.log.child({ component: 'api' }),
    declaredSync: async ({ owner, declared }) => {
      const result = await syncDeclaredJobs({
        jobService: plane.jobService,
        jobs: plane.jobs,
        owner,
        declared,
        log: plane.log.child({ component: 'api' }),
      });
      return {
        added: [...result.added],
        updated: [...result.updated],
        deleted: [...result.deleted],
        unchanged: [...result.unchanged],
        conflicts: [...result.conflicts],
      };
    },
  });
}
