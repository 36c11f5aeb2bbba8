import { describe, expect, it } from 'vitest';
import type { ConnectorResult } from '../shared/delivery/connector.js';
import {
  backoffMs,
  decideAnswer,
  dueness,
  eligibility,
  existingDeliveryAction,
  hourOf,
  type SendState,
} from '../shared/delivery/policy.js';
import type { UserRecord } from '../shared/stores/conversations.js';
import type { DeliveryRecord } from '../shared/stores/deliveryRecords.js';

/**
 * The delivery policy, row by row of the error table in docs/delivery.md, without Azurite or a
 * connector. Status codes and error codes are Microsoft's, from "Status codes from bot conversational
 * APIs": https://learn.microsoft.com/microsoftteams/platform/bots/build-conversational-capability#status-codes-from-bot-conversational-apis
 */

const failure = (status: number, code = `Http${status}`, retryAfterMs?: number): ConnectorResult<never> => ({
  ok: false,
  status,
  code,
  message: `${status} ${code}`,
  retryAfterMs,
});
const first: SendState = { call: 0, hasChat: true, reopened: false, transientRetries: 0, maxWaitMs: 10_000 };

describe('what to do with each Teams answer', () => {
  it('2xx: accepted (sent, with the activity ID)', () => {
    expect(decideAnswer({ ok: true, status: 201, body: { id: '1:abc' } }, first)).toEqual({ do: 'accept' });
  });

  it.each([429, 412, 502, 503, 504])('%i: waits Retry-After in process, up to three times', (status) => {
    expect(decideAnswer(failure(status, `Http${status}`, 2000), first)).toEqual({
      do: 'wait',
      delayMs: 2000,
      reason: `Http${status}`,
    });
    expect(decideAnswer(failure(status, `Http${status}`, 2000), { ...first, call: 3 })).toMatchObject({
      do: 'reschedule',
      delayMs: 2000,
    });
  });

  it('429 without Retry-After: a jittered exponential back-off', () => {
    const action = decideAnswer(failure(429), first);
    expect(action.do).toBe('wait');
    const delay = (action as { delayMs: number }).delayMs;
    expect(delay).toBeGreaterThanOrEqual(500);
    expect(delay).toBeLessThanOrEqual(1000);
    expect(backoffMs(3, 1000, 60_000, () => 1)).toBe(8000);
    expect(backoffMs(20, 1000, 60_000, () => 0)).toBe(30_000);
  });

  it('429 with a wait longer than the in-process limit: back to the queue with that delay', () => {
    expect(decideAnswer(failure(429, 'Http429', 30_000), first)).toEqual({
      do: 'reschedule',
      delayMs: 30_000,
      reason: 'Http429',
    });
  });

  it.each([
    'ConversationBlockedByUser',
    'BotNotInConversationRoster',
    'BotDisabledByAdmin',
    'ForbiddenOperationException',
  ])('403 %s: recipient deactivated, delivery failed with that code, no retry', (code) => {
    expect(decideAnswer(failure(403, code), first)).toEqual({ do: 'deactivate', reason: code });
  });

  it('403 with another code: failed at once, recipient kept', () => {
    expect(decideAnswer(failure(403, 'Forbidden'), first)).toEqual({ do: 'fail', reason: 'Forbidden' });
  });

  it('404 ConversationNotFound: the stored chat is dropped and opened again, once', () => {
    expect(decideAnswer(failure(404, 'ConversationNotFound'), first)).toEqual({
      do: 'reopen-chat',
      reason: 'ConversationNotFound',
    });
    expect(decideAnswer(failure(404, 'ConversationNotFound'), { ...first, reopened: true })).toEqual({
      do: 'fail',
      reason: 'ConversationNotFound',
    });
    expect(decideAnswer(failure(404, 'ConversationNotFound'), { ...first, hasChat: false })).toEqual({
      do: 'fail',
      reason: 'ConversationNotFound',
    });
  });

  it.each([
    [400, 'BadArgument'],
    [413, 'Http413'],
    [404, 'NotFound'],
    [409, 'Http409'],
  ])('%i %s: failed at once', (status, code) => {
    expect(decideAnswer(failure(status, code), first)).toEqual({ do: 'fail', reason: code });
  });

  it.each([
    [0, 'Timeout'],
    [0, 'NetworkError'],
  ])('%i %s (no answer): waited out like a 503, in process, then rescheduled', (status, code) => {
    const wait = decideAnswer(failure(status, code), first);
    expect(wait).toMatchObject({ do: 'wait', reason: code });
    expect((wait as { delayMs: number }).delayMs).toBeLessThanOrEqual(1000);
    expect(decideAnswer(failure(status, code), { ...first, call: 3 })).toMatchObject({
      do: 'reschedule',
      reason: code,
    });
  });

  it.each([
    [500, 'InternalServerError', 'InternalServerError'],
    [501, 'Http501', 'Http501'],
    [401, 'Unauthorized', 'Unauthorized'],
  ])('%i %s (other 5xx, 401): retried twice in process, then through the queue', (status, code, reason) => {
    const soon = decideAnswer(failure(status, code), first);
    expect(soon).toMatchObject({ do: 'retry-soon', reason });
    expect((soon as { delayMs: number }).delayMs).toBeGreaterThanOrEqual(500);
    expect((soon as { delayMs: number }).delayMs).toBeLessThanOrEqual(1000);
    expect(decideAnswer(failure(status, code), { ...first, transientRetries: 1 })).toMatchObject({
      do: 'retry-soon',
    });
    expect(decideAnswer(failure(status, code), { ...first, transientRetries: 2 })).toEqual({
      do: 'retry',
      reason,
    });
  });

  it('a call refused before it was made (untrusted service URL) fails without retry', () => {
    expect(decideAnswer(failure(0, 'UntrustedServiceUrl'), first)).toEqual({
      do: 'fail',
      reason: 'UntrustedServiceUrl',
    });
  });
});

const NOW = new Date('2026-03-02T10:15:00Z');
const user = (over: Partial<UserRecord> = {}): UserRecord => ({
  tenantId: 't1',
  userId: '29:u1',
  serviceUrl: 'https://smba.trafficmanager.net/teams/',
  sources: ['personal'],
  optedOut: false,
  capCount: 0,
  updatedAt: NOW.toISOString(),
  etag: 'e1',
  ...over,
});

describe('whether a recipient may be messaged', () => {
  it('a known, active user under the cap is eligible', () => {
    expect(eligibility(user(), { kind: 'userId' }, NOW, 30)).toEqual({ eligible: true, user: user() });
  });

  it('an unknown recipient fails with RecipientNotFound', () => {
    expect(eligibility(undefined, { kind: 'upn' }, NOW, 30)).toMatchObject({
      eligible: false,
      outcome: { status: 'failed', reason: 'RecipientNotFound' },
    });
  });

  it('a deactivated user fails with RecipientInactive and the reason', () => {
    expect(eligibility(user({ inactiveReason: 'Uninstalled' }), { kind: 'userId' }, NOW, 30)).toMatchObject({
      eligible: false,
      outcome: { status: 'failed', reason: 'RecipientInactive', detail: 'Uninstalled' },
    });
  });

  it('a user who said stop is skipped with OptedOut', () => {
    expect(eligibility(user({ optedOut: true }), { kind: 'userId' }, NOW, 30)).toMatchObject({
      eligible: false,
      outcome: { status: 'skipped', reason: 'OptedOut' },
    });
  });

  it('the hourly cap counts within the current hour only', () => {
    const capped = user({ capHour: hourOf(NOW), capCount: 30 });
    expect(eligibility(capped, { kind: 'userId' }, NOW, 30)).toMatchObject({
      eligible: false,
      outcome: { status: 'skipped', reason: 'HourlyCapReached' },
    });
    expect(eligibility({ ...capped, capHour: '2026-03-02T09' }, { kind: 'userId' }, NOW, 30).eligible).toBe(
      true,
    );
    expect(eligibility({ ...capped, capCount: 29 }, { kind: 'userId' }, NOW, 30).eligible).toBe(true);
  });
});

describe('when a delivery is due', () => {
  it('an expired task fails with Expired; a future notBefore waits; otherwise it is due', () => {
    expect(dueness({ expiresAt: '2026-03-02T10:00:00Z' }, NOW)).toMatchObject({
      outcome: { status: 'failed', reason: 'Expired' },
    });
    expect(dueness({ notBefore: '2026-03-02T10:16:00Z' }, NOW)).toEqual({ due: false, delayMs: 60_000 });
    expect(dueness({ notBefore: '2026-03-02T10:00:00Z', expiresAt: '2026-03-03T00:00:00Z' }, NOW)).toEqual({
      due: true,
    });
  });
});

describe('a delivery record that already exists', () => {
  const record = (over: Partial<DeliveryRecord>): DeliveryRecord => ({
    jobId: 'j',
    recipient: 'userId:29:u1',
    status: 'sending',
    attempts: 1,
    claimToken: 'other-message',
    claimedAt: new Date(NOW.getTime() - 30_000).toISOString(),
    updatedAt: NOW.toISOString(),
    etag: 'd1',
    ...over,
  });

  it.each(['sent', 'failed', 'skipped'] as const)('%s is final: the copy is a duplicate', (status) => {
    expect(existingDeliveryAction(record({ status }), 'mine', NOW, 120_000)).toEqual({ do: 'duplicate' });
  });

  it('a live claim elsewhere is left alone until its lease ends', () => {
    expect(existingDeliveryAction(record({}), 'mine', NOW, 120_000)).toEqual({
      do: 'reschedule',
      delayMs: 90_000,
    });
  });

  it('an abandoned claim is taken over: pending, our own message, or past its lease', () => {
    expect(existingDeliveryAction(record({ status: 'pending' }), 'mine', NOW, 120_000)).toEqual({
      do: 'take-over',
    });
    expect(existingDeliveryAction(record({ claimToken: 'mine' }), 'mine', NOW, 120_000)).toEqual({
      do: 'take-over',
    });
    const old = record({ claimedAt: new Date(NOW.getTime() - 121_000).toISOString() });
    expect(existingDeliveryAction(old, 'mine', NOW, 120_000)).toEqual({ do: 'take-over' });
  });
});
