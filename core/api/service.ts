/**
 * The management API's use cases, one method per route (core/api/routes.ts), over the core services
 * and ports. Inputs arrive already validated against the route's schemas; every accepted change is
 * written, then recorded in the audit log with who, what, when, before and after. Rejected input
 * throws before anything is written, so it changes nothing and leaves no audit record.
 *
 * The use cases live in rooms named after the routes' tags (core/api/use-cases/<tag>.ts: jobs, runs,
 * workers, contacts, alerts, stats, audit, agents), each over the steps they share
 * (core/api/use-cases/shared.ts); this class puts them together.
 */
import type { Me } from './schemas';
import { AgentUseCases } from './use-cases/agents';
import { AlertUseCases } from './use-cases/alerts';
import { AuditUseCases } from './use-cases/audit';
import { ContactUseCases } from './use-cases/contacts';
import { JobUseCases } from './use-cases/jobs';
import { RunUseCases } from './use-cases/runs';
import type { ManagementDeps, Principal } from './use-cases/shared';
import { StatsUseCases } from './use-cases/stats';
import { WorkerUseCases } from './use-cases/workers';

export type { DeclaredJobSync, ManagementDeps, Principal } from './use-cases/shared';

export class ManagementApi {
  readonly jobs: JobUseCases;
  readonly runs: RunUseCases;
  readonly workers: WorkerUseCases;
  readonly contacts: ContactUseCases;
  readonly alerts: AlertUseCases;
  readonly stats: StatsUseCases;
  readonly audit: AuditUseCases;
  readonly agents: AgentUseCases;

  constructor(deps: ManagementDeps) {
    this.jobs = new JobUseCases(deps);
    this.runs = new RunUseCases(deps);
    this.workers = new WorkerUseCases(deps);
    this.contacts = new ContactUseCases(deps);
    this.alerts = new AlertUseCases(deps);
    this.stats = new StatsUseCases(deps);
    this.audit = new AuditUseCases(deps);
    this.agents = new AgentUseCases(deps);
  }

  me(principal: Principal): Me {
    return { subject: principal.subject, role: principal.role, via: principal.via };
  }
}
