import { CloverError, ValidationError } from '../../errors';
import type { JobSpec } from '../../model';
import type { SyncResultBody } from '../schemas';
import { type Principal, UseCases } from './shared';

/** What agents call: the sync of the jobs an agent declares (config and decorators). */
export class AgentUseCases extends UseCases {
  async syncDeclaredJobs(
    principal: Principal,
    owner: string,
    jobs: readonly JobSpec[],
  ): Promise<SyncResultBody> {
    const ids = new Set<string>();
    for (const [i, job] of jobs.entries()) {
      if (ids.has(job.jobId)) throw ValidationError.field(`jobs.${i}.jobId`, `declares ${job.jobId} twice`);
      ids.add(job.jobId);
      await this.checkContacts(job.contacts, `jobs.${i}.contacts`);
    }
    let result: SyncResultBody;
    try {
      result = await this.deps.declaredSync({ owner, declared: jobs });
    } catch (error) {
      // A declared id held by another owner: name the entry, so an agent can leave it out and retry.
      const jobId = error instanceof CloverError ? error.details.jobId : undefined;
      const index = jobs.findIndex((job) => job.jobId === jobId);
      if (error instanceof CloverError && error.code === 'already_exists' && index >= 0) {
        throw new CloverError('already_exists', error.message, {
          details: { ...error.details, issues: [{ field: `jobs.${index}.jobId`, reason: error.message }] },
        });
      }
      throw error;
    }
    if (result.added.length || result.updated.length || result.deleted.length) {
      await this.record(principal, 'agent.declared-jobs', `agent:${owner}`, undefined, result);
    }
    return result;
  }
}
