/**
 * What every room of the management API's use cases shares (core/api/service.ts composes them): who
 * is calling, the ports they work over, and the steps they all take — the audit record of an accepted
 * change, one page of a bounded walk, a list's time window, the check that named contacts exist.
 */
import { randomBytes } from 'node:crypto';
import type { ContactService } from '../../contacts';
import type { Dispatcher } from '../../dispatch';
import { type CloverError, ValidationError } from '../../errors';
import type { JobService } from '../../jobs';
import type { Logger } from '../../log';
import type { JobSpec } from '../../model';
import type { AlertStore, Clock, ContactStore, JobStore, RunLedger, WorkerRegistry } from '../../ports';
import { type CursorState, decodeCursor, encodeCursor, type Position } from '../cursor';
import type { ApiReads, AuditLog, Visit, WalkOptions, WalkResult } from '../ports';
import {
  API_LIMITS,
  type AuditAction,
  type AuditRecord,
  type Page,
  type Role,
  type SyncResultBody,
} from '../schemas';

/** Who is calling: from a verified JWT (role from its groups) or, for agents in AWS, IAM (SigV4). */
export interface Principal {
  readonly subject: string;
  readonly role: Role;
  readonly via: 'jwt' | 'iam';
}

/** The declared-job sync (worker-agent/job-sync.ts), injected so core does not depend on the agent. */
export type DeclaredJobSync = (input: {
  readonly owner: string;
  readonly declared: readonly JobSpec[];
}) => Promise<SyncResultBody>;

export interface ManagementDeps {
  readonly jobService: JobService;
  readonly jobs: JobStore;
  readonly runs: RunLedger;
  readonly dispatcher: Dispatcher;
  readonly workers: WorkerRegistry;
  readonly contacts: ContactService;
  readonly contactStore: ContactStore;
  /** Acknowledgements and silences. */
  readonly alerts: AlertStore;
  readonly reads: ApiReads;
  readonly audit: AuditLog;
  readonly declaredSync: DeclaredJobSync;
  readonly clock: Clock;
  readonly log: Logger;
}

const HOUR_MS = 3600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Query inputs as the route schemas parse them. */
export interface PageInput {
  readonly limit: number;
  readonly cursor?: string | undefined;
}
export interface WindowInput {
  readonly from?: number | undefined;
  readonly to?: number | undefined;
}

/** A room of use cases: the routes of one resource, over the shared ports and steps. */
export abstract class UseCases {
  constructor(protected readonly deps: ManagementDeps) {}

  /** A job naming a contact that does not exist is rejected, naming the entry. */
  protected async checkContacts(contactIds: readonly string[], field: string): Promise<void> {
    const found = await Promise.all(contactIds.map((id) => this.deps.contactStore.get(id)));
    const issues = contactIds
      .map((id, i) => ({ id, i }))
      .filter(({ i }) => found[i] === null)
      .map(({ id, i }) => ({
        field: `${field}.${i}`,
        reason: `names contact ${JSON.stringify(id)}, which does not exist`,
      }));
    if (issues.length) throw new ValidationError(issues);
  }

  /**
   * Resolves a list's time window: `to` defaults to now (kept in the cursor, so later pages read the
   * same window), `from` to `defaultSpan` before `to`; at most maxWindowDays wide.
   */
  protected window(
    input: WindowInput,
    cursor: string | undefined,
    key: unknown,
    defaultSpan = API_LIMITS.defaultWindowDays * DAY_MS,
  ): { from: number; to: number; state: CursorState } {
    const state = cursor ? decodeCursor(cursor, key).state : {};
    const to = input.to ?? (typeof state.to === 'number' ? state.to : this.deps.clock.now());
    const from = input.from ?? to - defaultSpan;
    if (from > to) throw ValidationError.field('query.from', 'must not be after query.to');
    if (to - from > API_LIMITS.maxWindowDays * DAY_MS) {
      throw ValidationError.field(
        'query.from',
        `the window may span at most ${API_LIMITS.maxWindowDays} days`,
      );
    }
    return { from, to, state: { to } };
  }

  /**
   * One page of a list over a time window: the window resolved from the query (and the cursor), the
   * walk given it, the page keyed by `key` (the list and its filters).
   */
  protected windowedPage<T, V>(
    query: PageInput & WindowInput,
    key: unknown,
    walk: (
      window: { readonly from: number; readonly to: number },
      visit: Visit<T>,
      options: WalkOptions,
    ) => Promise<WalkResult>,
    view: (item: T) => V,
    pageSize: number,
  ): Promise<Page<V>> {
    const { limit, cursor, from, to } = query;
    const window = this.window({ from, to }, cursor, key);
    return this.page(
      key,
      cursor,
      limit,
      () => window.state,
      (visit, options) => walk(window, visit, options),
      view,
      pageSize,
    );
  }

  /** One page of a walk: decode the cursor, visit until `limit` items, encode where to go on. */
  protected async page<T, V>(
    key: unknown,
    cursor: string | undefined,
    limit: number,
    state: () => CursorState,
    walk: (visit: Visit<T>, options: WalkOptions) => Promise<WalkResult>,
    view: (item: T) => V,
    pageSize: number,
  ): Promise<Page<V>> {
    const start: Position | undefined = cursor ? decodeCursor(cursor, key).position : undefined;
    const items: V[] = [];
    // One item past the page is read and left for the next page: a cursor means more exist (or the
    // read budget ran out before the window did).
    const result = await walk(
      (item) => {
        if (items.length === limit) return false;
        items.push(view(item));
        return true;
      },
      { ...(start ? { start } : {}), maxReads: API_LIMITS.maxReadsPerPage, pageSize: pageSize + 1 },
    );
    const next = result.before ?? result.next;
    return { items, ...(next ? { nextCursor: encodeCursor(key, next, state()) } : {}) };
  }

  protected async record(
    principal: Principal,
    action: AuditAction,
    entity: string,
    before: unknown,
    after: unknown,
  ): Promise<void> {
    const at = this.deps.clock.now();
    const record: AuditRecord = {
      auditId: `${new Date(at).toISOString()}#${randomBytes(4).toString('hex')}`,
      at,
      actor: { subject: principal.subject, role: principal.role, via: principal.via },
      action,
      entity,
      ...(before === undefined ? {} : { before }),
      ...(after === undefined ? {} : { after }),
    };
    try {
      await this.deps.audit.append(record);
    } catch (error) {
      // The change itself is done and cannot be taken back; losing its record is logged loudly.
      this.deps.log.log('error', 'audit record not written', { action, entity, error: error as CloverError });
      throw error;
    }
  }
}
