/**
 * The OpenAPI document's own schemas (JSON Schema 2020-12, OpenAPI 3.1's dialect): what the routes
 * answer. The job itself is not here: it is the job contract's schema file (openapi.ts).
 */

const str = { type: 'string' } as const;
const int = { type: 'integer', minimum: 0 } as const;
const strings = { type: 'array', items: str } as const;
const lane = {
  description:
    'The lane the deliveries run in: the priority the job asked for, or its default (docs/delivery.md#lanes).',
  enum: ['urgent', 'normal', 'bulk'],
} as const;

export const Problem = {
  description: 'Why a request was refused: a reason code and what is wrong, in words.',
  type: 'object',
  required: ['error', 'errors'],
  properties: { error: str, errors: { ...strings, minItems: 1 } },
};

const producer = {
  description:
    'Who sent the job over HTTP: a Microsoft Entra token (its azp and oid), a key, or the sandbox.',
  type: 'object',
  required: ['kind', 'id'],
  properties: { kind: { enum: ['entra', 'key', 'open'] }, id: str, appId: str, objectId: str },
};

const callback = {
  type: 'object',
  required: ['event', 'url', 'state', 'attempts'],
  properties: {
    event: { enum: ['completed', 'rejected'] },
    url: str,
    state: { enum: ['sending', 'retrying', 'delivered', 'failed'] },
    attempts: int,
    lastStatus: { type: 'integer' },
    lastError: str,
    nextAttemptAt: str,
    deliveredAt: str,
    updatedAt: str,
  },
};

const recipient = {
  type: 'object',
  required: ['recipient', 'status', 'attempts'],
  properties: {
    recipient: str,
    status: { enum: ['pending', 'sent', 'failed', 'skipped', 'recalled', 'cancelled'] },
    reason: str,
    detail: str,
    activityId: str,
    conversationId: str,
    attempts: int,
    completedAt: str,
    lane,
    waitMs: { ...int, description: "From the job's acceptance (or notBefore) to Teams' answer, in ms." },
    updated: { type: 'boolean' },
    revision: int,
    revisedAt: str,
    readAt: str,
    acknowledgedAt: str,
    recalledAt: str,
    changeFailure: { type: 'object' },
  },
};

const totals = {
  type: 'object',
  required: ['recipients', 'pending', 'sent', 'failed', 'skipped'],
  additionalProperties: int,
};

export const JobStatus = {
  description:
    "A job's outcomes per recipient and in total, what happened after the send, and its callbacks.",
  type: 'object',
  required: ['jobId', 'tenantId', 'complete', 'totals', 'recipients'],
  properties: {
    jobId: str,
    tenantId: str,
    acceptedAt: str,
    source: str,
    priority: lane,
    complete: { type: 'boolean' },
    totals,
    recipients: { type: 'array', items: recipient },
    revision: int,
    revisedAt: str,
    recallRequestedAt: str,
    recalledAt: str,
    acknowledge: { type: 'boolean' },
    changes: { type: 'object' },
    expansion: { type: 'object' },
    continuationToken: str,
    rejected: { type: 'boolean' },
    reason: str,
    errors: strings,
    rejectedAt: str,
    lastRejection: { type: 'object' },
    producer,
    callbacks: { type: 'array', items: callback },
  },
};

export const Accepted = {
  type: 'object',
  required: ['jobId', 'tenantId', 'statusUrl', 'recipients'],
  properties: {
    jobId: str,
    tenantId: str,
    statusUrl: str,
    recipients: int,
    priority: lane,
    audience: { type: 'object' },
  },
};

export const ChangeAccepted = {
  type: 'object',
  required: ['jobId', 'tenantId', 'statusUrl', 'revision', 'recalled'],
  properties: {
    jobId: str,
    tenantId: str,
    statusUrl: str,
    revision: int,
    recalled: { type: 'boolean' },
    recallRequestedAt: str,
    recalledAt: str,
  },
};

export const Health = {
  type: 'object',
  required: ['status', 'checkedAt', 'checks', 'problems'],
  properties: {
    status: { enum: ['healthy', 'unhealthy'] },
    checkedAt: str,
    checks: { type: 'object', additionalProperties: str },
    problems: strings,
  },
};
