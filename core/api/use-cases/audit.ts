import type { AuditRecord, Page } from '../schemas';
import { type PageInput, UseCases, type WindowInput } from './shared';

/** Reading the audit log that every accepted change writes (UseCases.record). */
export class AuditUseCases extends UseCases {
  async list(query: PageInput & WindowInput & { entity?: string | undefined }): Promise<Page<AuditRecord>> {
    const { limit, from, to, entity } = query;
    return this.windowedPage(
      query,
      { list: 'audit', from, to, entity },
      (window, visit, options) =>
        this.deps.reads.walkAudit({ ...(entity ? { entity } : {}), ...window }, visit, options),
      (a: AuditRecord) => a,
      limit,
    );
  }
}
