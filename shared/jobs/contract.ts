import { createHash, randomUUID } from 'node:crypto';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { withAcknowledgeButton } from './acknowledge.js';
import { decodeJobText } from './decode.js';
import schema from './notification-job.v1.schema.json' with { type: 'json' };
import {
  JOB_ID,
  recipientKeyString,
  TENANT_ID,
  toRecipientKey,
  type RecipientKey,
  type RecipientRef,
} from './recipient.js';
import {
  audienceOf,
  isAudienceRef,
  MAX_AUDIENCE_GROUPS,
  MAX_AUDIENCE_TEAMS,
  type Audience,
  type AudienceRef,
} from './audience.js';
import { plural } from '../text.js';
import { priorityRefusal, type Priority } from './priority.js';

/** Job contract v1: the JSON other systems put on the queue. The schema file is the published contract. */

export interface NotificationMessage {
  text?: string;
  card?: Record<string, unknown>;
  summary?: string;
}

export interface NotificationJobInput {
  version?: 1;
  id?: string;
  tenantId: string;
  recipients: Array<RecipientRef | AudienceRef>;
  message: NotificationMessage;
  /** urgent, normal or bulk (priority.ts); the default depends on the job's size. */
  priority?: Priority;
  notBefore?: string;
  expiresAt?: string;
  traceparent?: string;
  /** Add an acknowledgement button (acknowledge.ts); `title` is the button's text. */
  acknowledge?: boolean | { title?: string };
  /** Where the job's CloudEvents go when it completes or is rejected (shared/callbacks/). */
  callback?: { url: string };
}

/** A job after validation: ID assigned, tenant lower-cased, recipients normalised and de-duplicated. */
export interface NotificationJob {
  id: string;
  tenantId: string;
  recipients: RecipientKey[];
  /** Teams, groups and/or all users, expanded into recipients after the job is accepted (audience.ts). */
  audience?: Audience | undefined;
  message: NotificationMessage;
  /** The priority the job asked for, if it did (its lane: priority.ts laneOf). */
  priority?: Priority | undefined;
  notBefore?: string | undefined;
  expiresAt?: string | undefined;
  traceparent?: string | undefined;
  /** Set when the job asked for an acknowledgement button. */
  acknowledge?: { title: string } | undefined;
  /** Set when the job asked to be called back (checked against the callback policy at intake). */
  callback?: { url: string } | undefined;
}

/** What recipients get: the message, with the acknowledgement button when the job asked for one. */
export function deliveredMessage(
  job: Pick<NotificationJob, 'id' | 'message' | 'acknowledge'>,
  message: NotificationMessage = job.message,
): NotificationMessage {
  return job.acknowledge ? withAcknowledgeButton(message, job.id, job.acknowledge.title) : message;
}

function acknowledgeOption(value: NotificationJobInput['acknowledge']): { title: string } | undefined {
  if (!value) return undefined;
  const title = typeof value === 'object' ? value.title?.trim() : undefined;
  return { title: title || 'Acknowledge' };
}

export type RejectionReason =
  | 'InvalidJson'
  | 'SchemaInvalid'
  | 'CardInvalid'
  | 'MessageTooLarge'
  | 'JobTooLarge'
  | 'Expired'
  | 'NotBeforeTooFar'
  | 'TenantNotAllowed'
  | 'CallbackNotAllowed';

/** A refusal names the job's ID and tenant when they are well formed: its status is looked up by both. */
export type ValidationResult =
  | { ok: true; job: NotificationJob }
  | {
      ok: false;
      reason: RejectionReason;
      errors: string[];
      jobId?: string | undefined;
      tenantId?: string | undefined;
    };

export const MAX_RECIPIENTS = schema.properties.recipients.maxItems;
/** Teams refuses bot messages over about 28 KB (HTTP 413); checked before anything is sent. */
export const MAX_MESSAGE_BYTES = 28 * 1024;
/**
 * How far ahead `notBefore` may be. A queue message stays hidden at most 7 days (Azure's limit on a
 * visibility timeout), so a job due later is carried there in hops (intake.ts); beyond this a
 * schedule is refused (NotBeforeTooFar) rather than kept pending for months.
 */
export const MAX_NOT_BEFORE_DAYS = 30;
/** Azure Storage queue messages are at most 64 KiB as sent (after base64 encoding). */
export const MAX_QUEUE_MESSAGE_BYTES = 64 * 1024;

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
// strictRequired is off: `anyOf: [{ required: [text] }, { required: [card] }]` names properties defined beside it.
// verbose: a failed pattern can quote its field's description (what the field must be).
// The schema's dialect is JSON Schema 2020-12, OpenAPI 3.1's own (shared/api/openapi.ts references it).
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, verbose: true });
addFormats(ajv);
const validateSchema = ajv.compile<NotificationJobInput>(schema);

function describe(error: ErrorObject): string {
  const where = error.instancePath || '(job)';
  if (error.keyword === 'additionalProperties') {
    return `${where}: unknown property "${String(error.params.additionalProperty)}"`;
  }
  if (error.keyword === 'enum' || error.keyword === 'const') {
    return `${where}: ${error.message} ${JSON.stringify(error.params.allowedValues ?? error.params.allowedValue)}`;
  }
  if (error.keyword === 'pattern') {
    const description = (error.parentSchema as { description?: unknown } | undefined)?.description;
    if (typeof description === 'string') return `${where}: ${error.message} (${description})`;
  }
  return `${where}: ${error.message}`;
}

/**
 * The errors worth reading: where a recipient names a known field with a bad value, the oneOf's
 * complaints about the other forms it did not take (required, unknown property, oneOf) are noise.
 */
function relevant(errors: ErrorObject[]): ErrorObject[] {
  const deeper = (path: string) =>
    errors.some((e) => e.instancePath.startsWith(`${path}/`) && e.keyword !== 'additionalProperties');
  const noise = new Set(['required', 'additionalProperties', 'oneOf']);
  return errors.filter((e) => !(noise.has(e.keyword) && e.instancePath && deeper(e.instancePath)));
}

/**
 * The activity a message becomes; its size is what Teams limits. `alert` (urgent jobs) asks Teams to
 * notify the person: `channelData.notification.alert`, as Microsoft documents for a bot's message
 * ("Notifications to your message",
 * https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/conversation-messages#notifications-to-your-message;
 * botbuilder's teamsNotifyUser sets the same, botbuilder-js libraries/botbuilder/src/teamsActivityHelpers.ts).
 */
export function toActivity(
  message: NotificationMessage,
  o: { alert?: boolean } = {},
): Record<string, unknown> {
  const activity: Record<string, unknown> = { type: 'message' };
  if (message.text) {
    activity.text = message.text;
    activity.textFormat = 'markdown';
  }
  if (message.summary) activity.summary = message.summary;
  if (message.card) {
    activity.attachments = [
      { contentType: 'application/vnd.microsoft.card.adaptive', content: message.card },
    ];
  }
  if (o.alert) activity.channelData = { notification: { alert: true } };
  return activity;
}

export function messageBytes(message: NotificationMessage, o: { alert?: boolean } = {}): number {
  return Buffer.byteLength(JSON.stringify(toActivity(message, o)));
}

/** A job from text (plain or base64 JSON, BOM or not, see decode.ts) or an already parsed value. */
export function parseJob(body: string | unknown, now = new Date()): ValidationResult {
  let input: unknown = body;
  if (typeof body === 'string') {
    const decoded = decodeJobText(body);
    if (!decoded.ok) return { ok: false, reason: 'InvalidJson', errors: decoded.errors };
    input = decoded.value;
  }
  return validateJob(input, now);
}

export function validateJob(input: unknown, now = new Date()): ValidationResult {
  // Reported with a rejection only when well formed: any string would end up in logs and tables.
  const raw = (input && typeof input === 'object' ? input : {}) as { id?: unknown; tenantId?: unknown };
  const jobId = typeof raw.id === 'string' && JOB_ID.test(raw.id) ? raw.id : undefined;
  const tenantId =
    typeof raw.tenantId === 'string' && TENANT_ID.test(raw.tenantId) ? raw.tenantId.toLowerCase() : undefined;
  const refuse = (reason: RejectionReason, ...errors: string[]): ValidationResult => ({
    ok: false,
    reason,
    errors,
    jobId,
    tenantId,
  });
  if (!validateSchema(input)) {
    return refuse('SchemaInvalid', ...new Set(relevant(validateSchema.errors ?? []).map(describe)));
  }
  const id = input.id ?? randomUUID();
  const acknowledge = acknowledgeOption(input.acknowledge);
  const alert = input.priority === 'urgent';
  const bytes = messageBytes(deliveredMessage({ id, message: input.message, acknowledge }), { alert });
  if (bytes > MAX_MESSAGE_BYTES) {
    return refuse(
      'MessageTooLarge',
      `/message: ${bytes} bytes as a Teams activity; Teams accepts at most ${MAX_MESSAGE_BYTES}`,
    );
  }
  if (input.notBefore && input.expiresAt && Date.parse(input.expiresAt) <= Date.parse(input.notBefore)) {
    return refuse('SchemaInvalid', '/expiresAt: must be after notBefore');
  }
  if (input.expiresAt && Date.parse(input.expiresAt) <= now.getTime()) {
    return refuse('Expired', `/expiresAt: ${input.expiresAt} has passed`);
  }
  const latest = now.getTime() + MAX_NOT_BEFORE_DAYS * 86_400_000;
  if (input.notBefore && Date.parse(input.notBefore) > latest) {
    return refuse(
      'NotBeforeTooFar',
      `/notBefore: ${input.notBefore} is more than ${MAX_NOT_BEFORE_DAYS} days ahead (latest accepted now: ${new Date(latest).toISOString()})`,
    );
  }
  const audience = audienceOf(input.recipients);
  if (audience && audience.teams.length > MAX_AUDIENCE_TEAMS) {
    return refuse(
      'SchemaInvalid',
      `/recipients: ${plural(audience.teams.length, 'team')}; a job names at most ${MAX_AUDIENCE_TEAMS}`,
    );
  }
  if (audience?.groups && audience.groups.length > MAX_AUDIENCE_GROUPS) {
    return refuse(
      'SchemaInvalid',
      `/recipients: ${audience.groups.length} groups; a job names at most ${MAX_AUDIENCE_GROUPS}`,
    );
  }
  const seen = new Set<string>();
  const recipients: RecipientKey[] = [];
  for (const ref of input.recipients) {
    if (isAudienceRef(ref)) continue;
    const key = toRecipientKey(ref);
    const text = recipientKeyString(key);
    if (!seen.has(text)) {
      seen.add(text);
      recipients.push(key);
    }
  }
  const priority = priorityRefusal({ priority: input.priority, recipients, audience });
  if (priority) return refuse('SchemaInvalid', priority);
  return {
    ok: true,
    job: {
      id,
      tenantId: input.tenantId.toLowerCase(),
      recipients,
      ...(audience ? { audience } : {}),
      message: input.message,
      ...(input.priority ? { priority: input.priority } : {}),
      notBefore: input.notBefore,
      expiresAt: input.expiresAt,
      traceparent: input.traceparent,
      ...(acknowledge ? { acknowledge } : {}),
      ...(input.callback ? { callback: { url: input.callback.url } } : {}),
    },
  };
}

/** Turns a validated job back into contract JSON (what producers enqueue). */
export function toWireJob(job: NotificationJob): NotificationJobInput {
  const wire: NotificationJobInput = {
    version: 1,
    id: job.id,
    tenantId: job.tenantId,
    recipients: [
      ...job.recipients.map((r) => ({ [r.kind]: r.value }) as RecipientRef),
      ...(job.audience?.teams ?? []).map((teamId) => ({ teamId })),
      ...(job.audience?.allUsers ? [{ allUsers: true as const }] : []),
      ...(job.audience?.groups ?? []).map((groupId) => ({ groupId })),
    ],
    message: job.message,
  };
  if (job.priority) wire.priority = job.priority;
  if (job.notBefore) wire.notBefore = job.notBefore;
  if (job.expiresAt) wire.expiresAt = job.expiresAt;
  if (job.traceparent) wire.traceparent = job.traceparent;
  if (job.acknowledge) wire.acknowledge = job.acknowledge;
  if (job.callback) wire.callback = job.callback;
  return wire;
}

/** Identity of a job's content, so a reused ID with different content is caught. */
export function contentHash(job: NotificationJob): string {
  const { tenantId, recipients, message, notBefore, expiresAt, audience, acknowledge, callback, priority } =
    job;
  const canonical = JSON.stringify({
    tenantId,
    recipients: recipients.map(recipientKeyString).sort(),
    // Only present for audience jobs, so the hash of every other job stays as it was.
    // Groups only when named, so the hash of a job accepted before groups existed stays as it was.
    ...(audience
      ? {
          audience: {
            teams: [...audience.teams].sort(),
            allUsers: audience.allUsers,
            ...(audience.groups?.length ? { groups: [...audience.groups].sort() } : {}),
          },
        }
      : {}),
    message,
    notBefore: notBefore ?? null,
    expiresAt: expiresAt ?? null,
    // Only present when asked for, so jobs accepted before the option existed keep their hash.
    ...(acknowledge ? { acknowledge } : {}),
    ...(callback ? { callback } : {}),
    // The priority asked for, only when asked: the same job with another priority is another job.
    ...(priority ? { priority } : {}),
  });
  return createHash('sha256').update(canonical).digest('base64url');
}
