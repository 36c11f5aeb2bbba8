import { createHash } from 'node:crypto';

/**
 * The telemetry port: stable event and metric names the rest of the code reports through.
 * The Application Insights adapter (appInsights.ts) implements it; without a connection string
 * nothing is sent.
 */

export type Properties = Record<string, string | number | boolean | undefined>;

export interface DependencyCall {
  name: string;
  target: string;
  resultCode: number;
  success: boolean;
  durationMs: number;
  properties?: Properties;
}

export interface Telemetry {
  event(name: string, properties?: Properties, measurements?: Record<string, number>): void;
  metric(name: string, value: number, properties?: Properties): void;
  dependency(call: DependencyCall): void;
  /** A user identifier in the form the settings allow (hashed by default). */
  userRef(id: string | undefined): string | undefined;
}

export const EventNames = {
  jobAccepted: 'JobAccepted',
  jobRejected: 'JobRejected',
  deliverySent: 'DeliverySent',
  deliveryFailed: 'DeliveryFailed',
  deliverySkipped: 'DeliverySkipped',
  deliveryRetry: 'DeliveryRetry',
  deliveryDuplicateSuppressed: 'DeliveryDuplicateSuppressed',
  throttled: 'Throttled',
  recipientDeactivated: 'RecipientDeactivated',
  botInstalled: 'BotInstalled',
  botUninstalled: 'BotUninstalled',
  /** A team's roster read after an install, ended (measurement `members`). */
  rosterRead: 'RosterRead',
  optOut: 'OptOut',
  optIn: 'OptIn',
  /** A queue message failed its last allowed attempt; the host moves it to `<queue>-poison`. */
  messagePoisoned: 'MessagePoisoned',
  /** After the send (shared/followUps/): a sent copy replaced or deleted, a send cancelled, a change that failed. */
  messageUpdated: 'MessageUpdated',
  messageRecalled: 'MessageRecalled',
  deliveryCancelled: 'DeliveryCancelled',
  changeFailed: 'ChangeFailed',
  messageRead: 'MessageRead',
  messageAcknowledged: 'MessageAcknowledged',
  jobUpdated: 'JobUpdated',
  jobRecalled: 'JobRecalled',
  /** The front door refused a producer (401/403; properties operation, status, error). */
  producerRefused: 'ProducerRefused',
  /** A producer went over a quota (429; properties producer, quota). */
  quotaExceeded: 'QuotaExceeded',
  /** A job's CloudEvent reached its callback, or gave up (properties event, outcome, attempts). */
  callbackDelivered: 'CallbackDelivered',
  callbackFailed: 'CallbackFailed',
  /** Microsoft Graph (shared/graph/): the app installed for a user it never met; a 429/503 from Graph. */
  appInstalledForUser: 'AppInstalledForUser',
  graphThrottled: 'GraphThrottled',
} as const;

export const MetricNames = {
  deliveryLatency: 'DeliveryLatencyMs',
  /** Per lane (dimension `lane`): from the job's acceptance (or notBefore) to Teams' answer. */
  deliveryWait: 'DeliveryWaitMs',
  queueAge: 'QueueAgeMs',
  throttles: 'Throttles',
  outcomes: 'DeliveryOutcomes',
  /** One per follow-up, dimension `kind`: updated, recalled, cancelled, changeFailed, read, acknowledged. */
  followUps: 'FollowUps',
  /** From the send to the first read receipt covering it. */
  timeToRead: 'TimeToReadMs',
  /** Per producer (dimension `producer`, its app ID or `key`): jobs by outcome (accepted, throttled, refused). */
  producerJobs: 'ProducerJobs',
  /** Per producer: named recipients of its accepted jobs. */
  producerRecipients: 'ProducerRecipients',
} as const;

export type UserIdMode = 'hash' | 'omit' | 'raw';

/**
 * How user identifiers appear in telemetry: a salted SHA-256 prefix by default (stable, so one
 * user's deliveries can be grouped, but not reversible without the salt), nothing, or as is.
 * The `upn:`/`userId:` kind prefix is kept so hashes of different kinds of ID are not confused.
 */
export function userRefFor(mode: UserIdMode, salt: string): (id: string | undefined) => string | undefined {
  return (id) => {
    if (!id || mode === 'omit') return undefined;
    if (mode === 'raw') return id;
    const [, kind = 'id', value = id] = /^(userId|aadObjectId|upn):(.*)$/s.exec(id) ?? [];
    const digest = createHash('sha256').update(`${salt}|${value.toLowerCase()}`).digest('base64url');
    return `${kind}#${digest.slice(0, 22)}`;
  };
}

class Noop implements Telemetry {
  event(): void {}
  metric(): void {}
  dependency(): void {}
  userRef(): string | undefined {
    return undefined;
  }
}

let current: Telemetry = new Noop();

export function telemetry(): Telemetry {
  return current;
}

export function setTelemetry(next: Telemetry): void {
  current = next;
}
