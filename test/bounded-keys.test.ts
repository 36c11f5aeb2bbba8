import { describe, expect, it } from 'vitest';
import {
  aliasRow,
  deliveryRow,
  memberPrefix,
  partitionOf,
  personRow,
  teamRow,
  userRow,
} from '../shared/azureStorage/conversationRows.js';
import { counterPrefix } from '../shared/azureStorage/countedWrite.js';
import { chatRow, readMarkRow } from '../shared/azureStorage/followUpRows.js';
import { keyPart } from '../shared/azureStorage/table.js';
import { jobPartition } from '../shared/azureStorage/tableJobStore.js';
import { validateJob } from '../shared/jobs/contract.js';
import { recipientKeyString } from '../shared/jobs/recipient.js';

/**
 * Issue 22, item 8: every key the app writes is bounded by the contract. Table Storage keys hold
 * "up to 1 KiB" (UTF-16: 512 characters, Azurite's limit too) and none of `/ \ # ?` nor the control
 * characters U+0000-U+001F and U+007F-U+009F ("Understanding the Table service data model",
 * learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model).
 */

const MAX_KEY = 512;
// The control characters are the point here.
// eslint-disable-next-line no-control-regex
const DISALLOWED = /[\u0000-\u001f\u007f-\u009f/\\#?]/;

// The longest IDs the contract and the activity check allow, of characters that encode longest.
const worst = {
  jobId: `J${':'.repeat(99)}`,
  tenantId: `T${'.'.repeat(63)}`,
  userId: '%'.repeat(256),
  upn: `${'+'.repeat(200)}@${'%'.repeat(55)}`,
  aadObjectId: 'a'.repeat(64),
  teamId: '#'.repeat(256),
  conversationId: '?'.repeat(1000),
  activityId: '/'.repeat(256),
};

describe('keys of the longest contract-valid IDs', () => {
  it('the contract accepts them', () => {
    const { jobId: id, tenantId, userId, upn, aadObjectId, teamId } = worst;
    const result = validateJob({
      id,
      tenantId,
      recipients: [{ userId }, { upn }, { aadObjectId }, { teamId }],
      message: { text: 'x' },
    });
    expect(result.ok).toBe(true);
  });

  it('fit a key and hold no character a key may not hold', () => {
    const { jobId, tenantId, userId, upn, aadObjectId, teamId, conversationId, activityId } = worst;
    const keys = {
      tenantPartition: partitionOf(tenantId),
      jobPartition: jobPartition(tenantId, jobId),
      user: userRow(userId),
      upnAlias: aliasRow('upn', upn),
      aadAlias: aliasRow('aad', aadObjectId),
      team: teamRow(teamId),
      member: memberPrefix(teamId) + keyPart(userId),
      person: personRow(jobId, userId),
      counter: `${counterPrefix(jobId)}63`,
      chat: chatRow(conversationId, activityId),
      readMark: readMarkRow(conversationId),
      ...Object.fromEntries(
        (['userId', 'upn', 'aadObjectId'] as const).map((kind) => [
          `delivery ${kind}`,
          deliveryRow(jobId, recipientKeyString({ kind, value: worst[kind] })),
        ]),
      ),
    };
    for (const [name, key] of Object.entries(keys)) {
      expect(key.length, name).toBeLessThanOrEqual(MAX_KEY);
      expect(key, name).not.toMatch(DISALLOWED);
    }
  });
});

describe('a key part', () => {
  it('keeps a usual ID readable, and gives the same ID the same part and different IDs different parts', () => {
    expect(userRow('29:1GcS4EyB_oSI8A88XmWBN7NJFyMqe3QGnJdgLfFGkJnVelzRGos0bPfj')).toBe(
      'user|29%3A1GcS4EyB_oSI8A88XmWBN7NJFyMqe3QGnJdgLfFGkJnVelzRGos0bPfj',
    );
    const long = (c: string) => `29:${c.repeat(253)}`;
    expect(keyPart(long('%'))).toBe(keyPart(long('%')));
    expect(keyPart(long('%'))).not.toBe(keyPart(long('&')));
    expect(keyPart(`${long('%')}x`)).not.toBe(keyPart(long('%')));
  });
});

describe('IDs outside the contract', () => {
  it('a 256-character non-ASCII userId or teamId is refused, naming the field', () => {
    for (const [field, recipient] of [
      ['/recipients/0/userId', { userId: `29:${'ü'.repeat(253)}` }],
      ['/recipients/0/teamId', { teamId: `19:${'ü'.repeat(253)}` }],
      ['/recipients/0/upn', { upn: 'ü@contoso.com' }],
    ] as const) {
      const result = validateJob({ tenantId: 'contoso', recipients: [recipient], message: { text: 'x' } });
      expect(result).toMatchObject({ ok: false, reason: 'SchemaInvalid' });
      expect(result.ok ? [] : result.errors).toEqual([expect.stringMatching(new RegExp(`^${field}: `))]);
    }
  });
});
