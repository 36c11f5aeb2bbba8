import { describe, expect, it } from 'vitest';
import type { ConnectorResult } from '../shared/delivery/connector.js';
import { decideChange, decideChangeFailure } from '../shared/followUps/changePolicy.js';
import { messageFor } from '../shared/followUps/content.js';
import {
  activityOrderKey,
  isReadBy,
  lastReadMessageIdOf,
  readRange,
} from '../shared/followUps/readReceipts.js';
import {
  ACK_VERB,
  acknowledgedCard,
  acknowledgedJobId,
  withAcknowledgeButton,
} from '../shared/jobs/acknowledge.js';
import { contentHash, validateJob } from '../shared/jobs/contract.js';
import type { DeliveryRecord } from '../shared/stores/deliveryRecords.js';

/**
 * The decisions behind updates, recalls, acknowledgements and read receipts, without Azurite.
 * Teams 1:1 message IDs are epoch-millisecond numbers as strings (e.g. "1616018282555" in the read
 * receipt sample of https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/conversation-messages#receive-a-read-receipt),
 * compared as numbers like ReadReceiptInfo.IsMessageRead does.
 */

const failure = (
  status: number,
  code: string,
  retryAfterMs?: number,
): Extract<ConnectorResult<never>, { ok: false }> => ({
  ok: false,
  status,
  code,
  message: `${status} ${code}`,
  retryAfterMs,
});

const now = new Date('2026-11-25T12:00:00Z');
const sent = (over: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
  jobId: 'j1',
  recipient: 'upn:a@example.com',
  status: 'sent',
  userId: '29:a',
  conversationId: 'a:1chat',
  activityId: '1732536000000',
  attempts: 1,
  updatedAt: now.toISOString(),
  etag: 'e1',
  ...over,
});
const LEASE = 120_000;

describe('read receipts: which messages a watermark covers', () => {
  it('compares numeric IDs as numbers, not as text', () => {
    expect(isReadBy('999', '1000')).toBe(true);
    expect(isReadBy('1000', '999')).toBe(false);
    expect(isReadBy('1616018282555', '1616018282555')).toBe(true);
    expect(isReadBy('1616018282556', '1616018282555')).toBe(false);
  });

  it('orders keys as the numbers they hold, so a range read finds exactly those at or below', () => {
    const ids = ['5', '1000', '999', '1616018282555', '42'];
    const sorted = [...ids].sort((a, b) => (activityOrderKey(a) < activityOrderKey(b) ? -1 : 1));
    expect(sorted).toEqual(['5', '42', '999', '1000', '1616018282555']);
    expect(activityOrderKey('007')).toBe(activityOrderKey('7'));
  });

  it('a non-numeric ID only matches itself', () => {
    expect(isReadBy('1:abc', '1:abc')).toBe(true);
    expect(isReadBy('1:abc', '1:abd')).toBe(false);
    expect(isReadBy('5', '1:abc')).toBe(false);
    expect(readRange('1:abc', undefined)).toEqual({ upTo: 's1:abc' });
  });

  it('reads only above the previous watermark, and nothing when it does not move up', () => {
    expect(readRange('2000', '1000')).toEqual({
      after: activityOrderKey('1000'),
      upTo: activityOrderKey('2000'),
    });
    expect(readRange('2000', undefined)).toEqual({ upTo: activityOrderKey('2000') });
    expect(readRange('1000', '2000')).toBeUndefined();
    expect(readRange('2000', '2000')).toBeUndefined();
  });

  it('takes lastReadMessageId from the readReceipt event only', () => {
    const event = {
      type: 'event',
      name: 'application/vnd.microsoft.readReceipt',
      value: { lastReadMessageId: '1616018282555' },
    };
    expect(lastReadMessageIdOf(event)).toBe('1616018282555');
    expect(lastReadMessageIdOf({ ...event, name: 'other' })).toBeUndefined();
    expect(lastReadMessageIdOf({ ...event, value: {} })).toBeUndefined();
  });
});

describe('what an update or recall does with one delivery', () => {
  const content = { revision: 2, recalledAt: undefined };

  it('updates a sent copy showing an older revision, once per revision', () => {
    expect(decideChange('update', sent(), content, 't', now, LEASE)).toEqual({ do: 'update', revision: 2 });
    expect(decideChange('update', sent({ revision: 2 }), content, 't', now, LEASE)).toMatchObject({
      do: 'nothing',
    });
  });

  it('leaves a delivery not sent yet to the send, which reads the latest content', () => {
    expect(decideChange('update', undefined, content, 't', now, LEASE)).toMatchObject({ do: 'nothing' });
    expect(decideChange('update', sent({ status: 'pending' }), content, 't', now, LEASE)).toMatchObject({
      do: 'nothing',
    });
  });

  it('recall deletes a sent copy and cancels one not sent yet', () => {
    expect(decideChange('recall', sent(), content, 't', now, LEASE)).toEqual({ do: 'delete' });
    expect(decideChange('recall', undefined, content, 't', now, LEASE)).toEqual({ do: 'cancel' });
    expect(decideChange('recall', sent({ status: 'pending' }), content, 't', now, LEASE)).toEqual({
      do: 'cancel',
    });
    expect(decideChange('recall', sent({ status: 'recalled' }), content, 't', now, LEASE)).toMatchObject({
      do: 'nothing',
    });
    expect(decideChange('recall', sent({ status: 'failed' }), content, 't', now, LEASE)).toMatchObject({
      do: 'nothing',
    });
  });

  it('waits for a send in flight, and for another worker changing the same copy', () => {
    const sending = sent({ status: 'sending', claimedAt: new Date(now.getTime() - 20_000).toISOString() });
    // A send in flight ends soon (its slot, one call): look again in a few seconds, not at lease end.
    expect(decideChange('recall', sending, content, 't', now, LEASE)).toEqual({
      do: 'wait',
      delayMs: 5000,
    });
    const abandoned = sent({
      status: 'sending',
      claimedAt: new Date(now.getTime() - 10 * LEASE).toISOString(),
    });
    expect(decideChange('recall', abandoned, content, 't', now, LEASE)).toEqual({
      do: 'wait',
      delayMs: 30_000,
    });
    const held = sent({ changeClaim: `other|${new Date(now.getTime() - 30_000).toISOString()}|update:2` });
    expect(decideChange('update', held, content, 't', now, LEASE)).toEqual({ do: 'wait', delayMs: 90_000 });
    // Our own claim (a redelivered queue message) or an expired one is taken over.
    expect(
      decideChange(
        'update',
        sent({ changeClaim: `t|${now.toISOString()}|update:2` }),
        content,
        't',
        now,
        LEASE,
      ),
    ).toEqual({ do: 'update', revision: 2 });
    const stale = sent({ changeClaim: `other|${new Date(now.getTime() - LEASE).toISOString()}|update:2` });
    expect(decideChange('update', stale, content, 't', now, LEASE)).toEqual({ do: 'update', revision: 2 });
  });

  it('a recalled job is never updated, from the moment the recall is asked for', () => {
    expect(
      decideChange('update', sent(), { revision: 2, recalledAt: now.toISOString() }, 't', now, LEASE),
    ).toMatchObject({ do: 'nothing', why: 'recalled' });
    const asked = { revision: 2, recallRequestedAt: now.toISOString() };
    expect(decideChange('update', sent(), asked, 't', now, LEASE)).toMatchObject({ do: 'nothing' });
  });
});

describe('what to do with a failed update or delete (the delivery error table)', () => {
  it('429 waits Retry-After in process, then goes back to the queue', () => {
    expect(decideChangeFailure(failure(429, 'TooManyRequests', 1000), 0, 10_000)).toEqual({
      do: 'wait',
      delayMs: 1000,
      reason: 'TooManyRequests',
    });
    expect(decideChangeFailure(failure(429, 'TooManyRequests', 60_000), 0, 10_000)).toEqual({
      do: 'reschedule',
      delayMs: 60_000,
      reason: 'TooManyRequests',
    });
  });

  it('404 ActivityNotFoundInConversation and ConversationNotFound are recorded as failed, not retried', () => {
    expect(decideChangeFailure(failure(404, 'ActivityNotFoundInConversation'), 0, 10_000)).toEqual({
      do: 'fail',
      reason: 'ActivityNotFoundInConversation',
    });
    expect(decideChangeFailure(failure(404, 'ConversationNotFound'), 0, 10_000)).toEqual({
      do: 'fail',
      reason: 'ConversationNotFound',
    });
    expect(decideChangeFailure(failure(403, 'ConversationBlockedByUser'), 0, 10_000)).toEqual({
      do: 'fail',
      reason: 'ConversationBlockedByUser',
    });
  });

  it('5xx are retried soon in process twice, then go back to the queue; no answer is waited out', () => {
    expect(decideChangeFailure(failure(500, 'InternalServerError'), 0, 10_000, 0)).toMatchObject({
      do: 'retry-soon',
      reason: 'InternalServerError',
    });
    expect(decideChangeFailure(failure(500, 'InternalServerError'), 2, 10_000, 2)).toEqual({
      do: 'retry',
      reason: 'InternalServerError',
    });
    expect(decideChangeFailure(failure(0, 'Timeout'), 3, 10_000, 2)).toMatchObject({
      do: 'reschedule',
      reason: 'Timeout',
    });
  });
});

describe('the acknowledgement button', () => {
  it('turns a text message into a card that keeps the text, with an Action.Execute', () => {
    const m = withAcknowledgeButton({ text: 'Read the policy', summary: 'Policy' }, 'job-1', 'Got it');
    expect(m.text).toBeUndefined();
    expect(m.summary).toBe('Policy');
    expect(m.card).toMatchObject({
      type: 'AdaptiveCard',
      version: '1.4',
      body: [{ type: 'TextBlock', text: 'Read the policy' }],
      actions: [{ type: 'Action.Execute', title: 'Got it', verb: ACK_VERB, data: { jobId: 'job-1' } }],
    });
  });

  it('adds the button after a card’s own actions and raises its version to 1.4', () => {
    const card = {
      type: 'AdaptiveCard',
      version: '1.2',
      body: [],
      actions: [{ type: 'Action.OpenUrl', title: 'Open', url: 'https://example.com' }],
    };
    const m = withAcknowledgeButton({ card }, 'job-2');
    expect((m.card as { version: string }).version).toBe('1.4');
    expect((m.card as { actions: Array<{ type: string }> }).actions.map((a) => a.type)).toEqual([
      'Action.OpenUrl',
      'Action.Execute',
    ]);
  });

  it('is recognised from the invoke value, and the acknowledged card has no button but a note', () => {
    type Button = { fallback: { type: string; data: { msteams: { type: string; value: unknown } } } };
    const button = (withAcknowledgeButton({ text: 'x' }, 'job-3').card as { actions: Button[] }).actions[0]!;
    expect(acknowledgedJobId({ action: button })).toBe('job-3');
    expect(
      acknowledgedJobId({ action: { type: 'Action.Execute', verb: 'other', data: { jobId: 'job-3' } } }),
    ).toBeUndefined();
    // Its fallback for clients without Action.Execute: an invoke card action whose value is the press.
    expect(button.fallback).toMatchObject({ type: 'Action.Submit', data: { msteams: { type: 'invoke' } } });
    expect(acknowledgedJobId(button.fallback.data.msteams.value)).toBe('job-3');
    expect(acknowledgedJobId({ verb: 'other', jobId: 'job-3' })).toBeUndefined();
    expect(acknowledgedJobId('job-3')).toBeUndefined();
    const card = acknowledgedCard({ text: 'x' }, '2026-11-25T12:34:56Z');
    expect(card.actions).toBeUndefined();
    expect(JSON.stringify(card.body)).toContain('Acknowledged 2026-11-25 12:34 UTC');
  });

  it('is a job option that validates, sizes the message with the button and leaves old jobs’ hashes alone', () => {
    const base = {
      id: 'ack-1',
      tenantId: 't1',
      recipients: [{ upn: 'a@example.com' }],
      message: { text: 'hi' },
    };
    const plain = validateJob(base);
    const ack = validateJob({ ...base, acknowledge: { title: 'Got it' } });
    expect(plain.ok && ack.ok).toBe(true);
    if (!plain.ok || !ack.ok) return;
    expect(ack.job.acknowledge).toEqual({ title: 'Got it' });
    expect(
      validateJob({ ...base, acknowledge: true }).ok &&
        (validateJob({ ...base, acknowledge: true }) as { job: { acknowledge: unknown } }).job.acknowledge,
    ).toEqual({ title: 'Acknowledge' });
    expect(contentHash(plain.job)).not.toBe(contentHash(ack.job));
    expect(validateJob({ ...base, acknowledge: { label: 'x' } })).toMatchObject({
      ok: false,
      reason: 'SchemaInvalid',
    });
    const acknowledgedAt = '2026-11-25T12:00:00Z';
    const content = { jobId: 'ack-1', message: { text: 'hi' }, acknowledgeTitle: 'Got it' };
    expect(JSON.stringify(messageFor(content))).toContain(ACK_VERB);
    expect(JSON.stringify(messageFor(content, acknowledgedAt))).not.toContain(ACK_VERB);
  });
});
