import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOT_ID, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import {
  channelMessage,
  personalInstall,
  personalMembersAdded,
  personalMessage,
  teamEvent,
} from './support/activities.js';
import { queueLength } from './support/pipeline.js';

/** Issue 2: the messages function against real Azurite and a Teams-like connector. */

const megan = { id: '29:megan', name: 'Megan Bowen', aadObjectId: 'aad-megan' };
const alex = { id: '29:alex', name: 'Alex Wilber', aadObjectId: 'aad-alex' };
/**
 * Roster entries as the connector's `/members` and `/pagedmembers` answer them: the Entra ID is
 * `objectId` there (activities say `aadObjectId`). Shape from
 * https://learn.microsoft.com/microsoftteams/platform/bots/how-to/get-teams-context (JSON tab).
 */
const member = (account: { id: string; name: string; aadObjectId: string }, upn: string, email?: string) => ({
  id: account.id,
  name: account.name,
  objectId: account.aadObjectId,
  ...(email ? { email } : {}),
  userPrincipalName: upn,
  tenantId: TENANT,
  userRole: 'user' as const,
});
const roster = [
  member(megan, 'meganb@contoso.com', 'MeganB@contoso.com'),
  member(alex, 'alexw@contoso.com', 'alexw@contoso.com'),
  member({ id: '29:lee', name: 'Lee Gu', aadObjectId: 'aad-lee' }, 'leeg@contoso.com'),
  member({ id: '29:isaiah', name: 'Isaiah Langer', aadObjectId: 'aad-isaiah' }, 'isaiahl@contoso.com'),
  member({ id: '29:diego', name: 'Diego Siciliani', aadObjectId: 'aad-diego' }, 'diegos@contoso.com'),
];

let app: TestApp;

async function userRow(userId: string) {
  const table = app.table('Conversations');
  try {
    return await table.getEntity<Record<string, unknown>>(TENANT, `user|${encodeURIComponent(userId)}`);
  } catch {
    return undefined;
  }
}

async function aliasRow(rowKey: string) {
  try {
    return await app.table('Conversations').getEntity<Record<string, unknown>>(TENANT, rowKey);
  } catch {
    return undefined;
  }
}

const sentTo = (conversationId: string) =>
  app.connector.accepted
    .filter((a) => a.conversationId === conversationId)
    .map((a) => String(a.body.text ?? ''));

beforeAll(async () => {
  app = await startApp({ env: { ALLOWED_TENANT_IDS: TENANT, ROSTER_PAGE_SIZE: '2' } });
  app.connector.setRoster('team-1', roster);
  for (const member of roster) app.connector.setRoster(`a:personal-${member.id}`, [member]);
});

afterAll(async () => {
  await app?.stop();
});

describe('personal install', () => {
  it('stores the reference and 1:1 conversation ID and welcomes once', async () => {
    const chat = 'a:personal-29:megan';
    app.connector.registerConversation(chat, { tenantId: TENANT, members: [roster[0]!] });
    const first = await app.post('messages', personalInstall(app.connector.url, megan, chat));
    expect(first.status).toBe(200);
    const row = await userRow('29:megan');
    expect(row).toMatchObject({
      conversationId: chat,
      serviceUrl: app.connector.url,
      active: true,
      optedOut: false,
    });
    expect(row?.upn).toBe('meganb@contoso.com');
    expect(sentTo(chat)).toHaveLength(1);
    expect(sentTo(chat)[0]).toMatch(/Teams Notifier/);
    expect(sentTo(chat)[0]).toMatch(/stop/);

    // Teams sends conversationUpdate too, and a reinstall sends installationUpdate again: no second welcome.
    expect((await app.post('messages', personalMembersAdded(app.connector.url, megan, chat))).status).toBe(
      200,
    );
    expect((await app.post('messages', personalInstall(app.connector.url, megan, chat))).status).toBe(200);
    expect(sentTo(chat)).toHaveLength(1);
  });

  it('welcomes exactly once when both install events arrive at the same time', async () => {
    const chat = 'a:personal-29:alex';
    app.connector.registerConversation(chat, { tenantId: TENANT, members: [roster[1]!] });
    const results = await Promise.all([
      app.post('messages', personalInstall(app.connector.url, alex, chat)),
      app.post('messages', personalMembersAdded(app.connector.url, alex, chat)),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(sentTo(chat)).toHaveLength(1);
  });

  it('finds the user by Teams user ID, AAD object ID and UPN with point reads', async () => {
    expect((await aliasRow('aad|aad-megan'))?.userId).toBe('29:megan');
    expect((await aliasRow('upn|meganb%40contoso.com'))?.userId).toBe('29:megan');
  });
});

describe('team install', () => {
  it('stores the team and every member of its roster, reading all pages', async () => {
    const before = app.connector.calls.filter((c) => c.route === 'getPagedMembers').length;
    const res = await app.post(
      'messages',
      teamEvent(app.connector.url, 'team-1', alex, {
        eventType: 'teamMemberAdded',
        membersAdded: [{ id: BOT_ID }],
      }),
    );
    expect(res.status).toBe(200);
    // The roster is read by a queued task, not in the turn (queued-work.test.ts shows the order).
    const team = await eventually(
      async () => {
        const row = await aliasRow('team|team-1');
        return row?.rosterSyncedAt ? row : undefined;
      },
      15_000,
      'the roster read',
    );
    expect(team).toMatchObject({ installed: true, memberCount: 5 });
    const pages = () => app.connector.calls.filter((c) => c.route === 'getPagedMembers').length - before;
    expect(pages()).toBe(3); // 5 members, 2 per page
    // Teams sends installationUpdate too (and retries an install it thinks went unanswered): no second read.
    const again = await app.post(
      'messages',
      teamEvent(app.connector.url, 'team-1', alex, { type: 'installationUpdate', action: 'add' }),
    );
    expect(again.status).toBe(200);
    for (const member of roster) {
      const row = await userRow(member.id);
      expect(row, member.id).toMatchObject({
        aadObjectId: member.objectId,
        upn: member.userPrincipalName,
        active: true,
      });
      expect(JSON.parse(String(row?.sources))).toContain('team:team-1');
    }
    expect(pages()).toBe(3);
    expect(await queueLength(app, 'notification-deliveries')).toBe(0);
  });

  it('stores members added later and marks removed members inactive', async () => {
    const newcomer = member(
      { id: '29:nestor', name: 'Nestor Wilke', aadObjectId: 'aad-nestor' },
      'nestorw@contoso.com',
    );
    app.connector.setRoster('team-1', [...roster, newcomer]);
    const added = await app.post(
      'messages',
      teamEvent(app.connector.url, 'team-1', alex, {
        eventType: 'teamMemberAdded',
        membersAdded: [{ id: newcomer.id }],
      }),
    );
    expect(added.status).toBe(200);
    expect(await userRow(newcomer.id)).toMatchObject({ upn: 'nestorw@contoso.com', active: true });

    const removed = await app.post(
      'messages',
      teamEvent(app.connector.url, 'team-1', alex, {
        eventType: 'teamMemberRemoved',
        membersRemoved: [{ id: newcomer.id }],
      }),
    );
    expect(removed.status).toBe(200);
    expect(await userRow(newcomer.id)).toMatchObject({ active: false, inactiveReason: 'RemovedFromTeam' });
  });

  it('accepts the older teamsAddMembers payload and installationUpdate in team scope', async () => {
    app.connector.setRoster('team-2', [roster[2]!, roster[3]!]);
    const older = await app.post(
      'messages',
      teamEvent(app.connector.url, 'team-2', alex, {
        eventType: 'teamsAddMembers',
        membersAdded: [{ id: BOT_ID }],
      }),
    );
    expect(older.status).toBe(200);
    await eventually(async () => String((await userRow('29:lee'))?.sources).includes('team:team-2'));

    app.connector.setRoster('team-3', [roster[4]!]);
    const install = await app.post(
      'messages',
      teamEvent(app.connector.url, 'team-3', alex, { type: 'installationUpdate', action: 'add' }),
    );
    expect(install.status).toBe(200);
    await eventually(async () => String((await userRow('29:diego'))?.sources).includes('team:team-3'));
    await eventually(async () => (await aliasRow('team|team-3'))?.rosterSyncedAt);
  });

  it('marks members inactive when the bot is removed or the team deleted, unless known elsewhere', async () => {
    const removed = await app.post(
      'messages',
      teamEvent(app.connector.url, 'team-3', alex, { type: 'installationUpdate', action: 'remove' }),
    );
    expect(removed.status).toBe(200);
    // Diego was known from team-1 too: still active, but team-3 is gone from his sources.
    const diego = await userRow('29:diego');
    expect(JSON.parse(String(diego?.sources))).not.toContain('team:team-3');
    expect(diego?.active).toBe(true);
    expect(await aliasRow('team|team-3')).toMatchObject({ installed: false });

    const deleted = await app.post(
      'messages',
      teamEvent(app.connector.url, 'team-1', alex, { eventType: 'teamDeleted' }),
    );
    expect(deleted.status).toBe(200);
    expect(await userRow('29:diego')).toMatchObject({ active: false, inactiveReason: 'BotRemovedFromTeam' });
    // Megan installed the bot personally, so she stays reachable.
    expect(await userRow('29:megan')).toMatchObject({ active: true });
  });
});

describe('messages', () => {
  const chat = 'a:personal-29:megan';

  it('answers help, stop and start, and records the opt-out', async () => {
    const reply = async (text: string) => {
      const before = sentTo(chat).length;
      const res = await app.post('messages', personalMessage(app.connector.url, megan, chat, text));
      expect(res.status).toBe(200);
      return sentTo(chat).slice(before).join('\n');
    };
    expect(await reply('help')).toMatch(/stop.*\n*.*start/s);
    expect(await reply('stop')).toMatch(/won't get notifications/);
    expect(await userRow('29:megan')).toMatchObject({ optedOut: true });
    expect(await reply('start')).toMatch(/again/);
    expect(await userRow('29:megan')).toMatchObject({ optedOut: false });
    expect(await reply('what can you do?')).toMatch(/only understand/);
  });

  it('refreshes the sender reference on any message', async () => {
    const moved = `${app.connector.url}`;
    const renamed = { ...megan, name: 'Megan B.' };
    const res = await app.post('messages', personalMessage(moved, renamed, chat, 'help'));
    expect(res.status).toBe(200);
    expect(await userRow('29:megan')).toMatchObject({ name: 'Megan B.', conversationId: chat });
  });

  it('DMs a user @mentioned with the bot in a channel and confirms in the thread', async () => {
    const isaiah = { id: '29:isaiah', name: 'Isaiah Langer' };
    const activity = channelMessage(
      app.connector.url,
      'team-2',
      alex,
      '<at>Teams Notifier</at> tell <at>Isaiah Langer</at> the build is green',
      [{ id: BOT_ID, name: 'Teams Notifier' }, isaiah],
    );
    const threadId = activity.conversation.id;
    app.connector.registerConversation(threadId, { tenantId: TENANT });
    const res = await app.post('messages', activity);
    expect(res.status).toBe(200);
    const created = [...app.connector.conversations.values()].find((c) =>
      c.members.some((m) => m.id === '29:isaiah'),
    );
    expect(created?.createCount).toBe(1);
    expect(sentTo(created!.id).join()).toMatch(/Alex Wilber.*the build is green/);
    const confirmation = app.connector.accepted.find((a) => a.conversationId === threadId);
    expect(String(confirmation?.body.text)).toMatch(/Sent Isaiah Langer a DM/);
    expect(await userRow('29:isaiah')).toMatchObject({ conversationId: created!.id });
    // Teams retries an activity it got no answer for: the same activity never DMs twice.
    await app.post('messages', activity);
    expect(sentTo(created!.id)).toHaveLength(1);
  });

  it('logs one line per command and @mention, without the text or names', async () => {
    const lines = (re: RegExp) => app.logs.filter((l) => re.test(l.message));
    const stops = lines(/^bot: command stop \(opted out\)$/).length;
    const mentions = lines(/^bot: @mention job mention-\S+: 1 DM\(s\): sent$/).length;
    const stop = await app.post('messages', personalMessage(app.connector.url, megan, chat, 'stop'));
    expect(stop.status).toBe(200);
    await app.post('messages', personalMessage(app.connector.url, megan, chat, 'start'));
    const patti = { id: '29:patti', name: 'Patti Fernandez' };
    const text = 'release 7 is signed off';
    const activity = channelMessage(
      app.connector.url,
      'team-2',
      alex,
      `<at>Teams Notifier</at> tell <at>Patti Fernandez</at> ${text}`,
      [{ id: BOT_ID, name: 'Teams Notifier' }, patti],
    );
    app.connector.registerConversation(activity.conversation.id, { tenantId: TENANT });
    expect((await app.post('messages', activity)).status).toBe(200);
    await eventually(
      () =>
        lines(/^bot: command stop \(opted out\)$/).length === stops + 1 &&
        lines(/^bot: @mention job mention-\S+: 1 DM\(s\): sent$/).length === mentions + 1,
      15_000,
      'the command and @mention log lines',
    );
    expect(lines(/^bot: command start \(opted in\)$/).length).toBeGreaterThan(0);
    expect(lines(/release 7|Patti|Megan|Alex/)).toEqual([]);
  });

  it('ignores channel messages that do not mention the bot', async () => {
    const before = app.connector.accepted.length;
    const res = await app.post(
      'messages',
      channelMessage(app.connector.url, 'team-2', alex, 'hello all', []),
    );
    expect(res.status).toBe(200);
    expect(app.connector.accepted.length).toBe(before);
  });
});

describe('bad input', () => {
  it('answers 400 to malformed JSON and to a body that is not an activity', async () => {
    const malformed = await app.post('messages', '{"type": "message",');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ error: expect.stringMatching(/not valid JSON/) });
    expect((await app.post('messages', '[1,2]')).status).toBe(400);
    expect((await app.post('messages', { text: 'no type' })).status).toBe(400);
  });

  it('refuses an activity from a tenant outside the allowlist and stores nothing', async () => {
    const stranger = { id: '29:stranger', name: 'Eve' };
    const res = await app.post(
      'messages',
      personalInstall(app.connector.url, stranger, 'a:eve', 'f00dbabe-0000-0000-0000-000000000000'),
    );
    expect(res.status).toBe(403);
    const rows = app
      .table('Conversations')
      .listEntities({ queryOptions: { filter: "PartitionKey eq 'f00dbabe-0000-0000-0000-000000000000'" } });
    const found = [];
    for await (const row of rows) found.push(row);
    expect(found).toEqual([]);
    expect(app.connector.accepted.some((a) => a.conversationId === 'a:eve')).toBe(false);
  });

  it('answers 200 to unknown activity types and ignores them', async () => {
    const before = app.connector.calls.length;
    const res = await app.post('messages', {
      ...personalMessage(app.connector.url, megan, 'a:x', ''),
      type: 'typing',
    });
    expect(res.status).toBe(200);
    expect(app.connector.calls.length).toBe(before);
  });

  it('answers 5xx and logs an error when storage fails', async () => {
    await app.azurite.stop();
    try {
      const res = await app.post(
        'messages',
        personalMessage(app.connector.url, megan, 'a:personal-29:megan', 'help'),
      );
      expect(res.status).toBeGreaterThanOrEqual(500);
      await eventually(() =>
        app.logs.some((l) => l.level === 'error' && /messages: activity message failed/.test(l.message)),
      );
    } finally {
      await app.azurite.restart();
    }
  });
});
