import type { JobRef } from '../stores/jobs.js';

/**
 * The CloudEvents a job's callback receives, in the JSON format's structured mode: one JSON object,
 * media type `application/cloudevents+json` (CloudEvents 1.0, github.com/cloudevents/spec:
 * cloudevents/spec.md "Context Attributes" for `specversion`, `id`, `source`, `type` (required) and
 * `subject`, `time`, `datacontenttype`; cloudevents/formats/json-format.md for the format;
 * cloudevents/bindings/http-protocol-binding.md "Structured Content Mode" for the HTTP request).
 * `type` is in our own namespace. `id` is the same on every attempt: with `source` it names the event,
 * so a receiver drops a repeat (the spec's rule for duplicates).
 */

export const EVENT_TYPES = {
  completed: 'com.teams-notifier.job.JobCompleted',
  rejected: 'com.teams-notifier.job.JobRejected',
} as const;
export type CallbackEvent = keyof typeof EVENT_TYPES;

export const CLOUDEVENTS_JSON = 'application/cloudevents+json; charset=utf-8';

export interface JobEventData {
  jobId: string;
  tenantId: string;
  /** The job's status URL (GET, with the producer's own credentials). */
  statusUrl?: string | undefined;
  totals: Record<string, number>;
  /** JobRejected: why, and the first errors. */
  reason?: string | undefined;
  errors?: string[] | undefined;
}

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: JobEventData;
}

export function jobEvent(event: CallbackEvent, ref: JobRef, data: JobEventData, time: Date): CloudEvent {
  return {
    specversion: '1.0',
    id: `${ref.tenantId}/${ref.jobId}/${event}`,
    source: `/api/notifications?tenantId=${encodeURIComponent(ref.tenantId)}`,
    type: EVENT_TYPES[event],
    subject: ref.jobId,
    time: time.toISOString(),
    datacontenttype: 'application/json',
    data,
  };
}
