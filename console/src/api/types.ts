/**
 * The API's shapes, imported from core (the zod schemas the server validates with and builds its
 * OpenAPI document from), so the console and the API cannot drift. Types only: nothing of zod or
 * core is bundled.
 */
export type {
  AlertListQueryInput,
  AuditListQueryInput,
  AuditRecord,
  Contact,
  ContactView,
  ErrorSearchQueryInput,
  ErrorSearchResult,
  JobListQueryInput,
  JobPage,
  JobSpecInput,
  JobView,
  LoginResponse as LocalLoginResponse,
  Me,
  Page,
  Role,
  RunListQueryInput,
  RunLog,
  RunSummary,
  SchedulePreview,
  SchedulePreviewBody,
  Stats,
  TriggerResponse,
  WorkerView,
} from '../../../core/api/schemas';
export type {
  AlertKind,
  AlertRecord,
  AudienceVia,
  ChannelChange,
  ChannelDelivery,
  ChannelType,
  ConcurrencyPolicy,
  DeliveryKind,
  JobMode,
  JobSpec,
  MisfirePolicy,
  RoutingStrategy,
  Run,
  RunStatus,
  Subscription,
  WaitForMode,
} from '../../../core/model';
