import { beforeAll, describe, expect, it } from 'vitest';
import { enqueueNotification } from '../shared/jobs/producer.js';
import { TENANT, eventually, type TestApp } from './support/app.js';
import { sentTo, settled, store } from './support/pipeline.js';
import { jobId, useProductionApp } from './support/production.js';
import {
  CHANNEL_ID,
  PEOPLE,
  TEAM,
  actionSubmit,
  adaptiveCardAction,
  botAddedToTeam,
  channelCreated,
  channelMessageWithMentions,
  pagedMembersAnswer,
  personalMessage,
  readReceipt,
  teamInstallationUpdate,
  teamRenamed,
} from './fixtures/teams.js';

/**
 * Issue 10: what production sends, from Teams' side. The roster and events as Microsoft documents
 * them, and card buttons, with Microsoft-shaped fixtures (fixtures/teams.ts), against real Azurite
 * and the app in its own process.
 */

let app: TestApp;
useProductionApp((started) => ({ app } = started));

describe('4. the roster as Teams answers it', () => {
  /** The 1:1 chat the app opened with this person (createConversation names them as its member). */
  const chat = (p: { id: string }) =>
    [...app.connector.conversations.values()].find((c) => c.members.some((m) => m.id === p.id))?.id ?? '';

  beforeAll(async () => {
    // botbuilder's TeamsInfo.getPagedMembers asks for the team's roster (channelData.team.id).
    app.connector.setRoster(TEAM.id, pagedMembersAnswer().members);
    app.connector.registerConversation(`${CHANNEL_ID};messageid=1763719632001`, { tenantId: TENANT });
    expect((await app.post('messages', teamInstallationUpdate(app.connector.url))).status).toBe(200);
    expect((await app.post('messages', botAddedToTeam(app.connector.url))).status).toBe(200);
    // The install answers at once; its queued task reads the roster (docs/bot.md).
    await eventually(async () => (await store(app).getTeam(TENANT, TEAM.id))?.rosterSyncedAt);
  });

  it('stores the objectId of each person in the pagedmembers answer as the AAD object ID, and reaches them by it', async () => {
    const grady = await store(app).getUserById(TENANT, PEOPLE.grady.id);
    expect(grady).toMatchObject({ aadObjectId: PEOPLE.grady.objectId, upn: PEOPLE.grady.userPrincipalName });
    const id = jobId('aad');
    await enqueueNotification(
      {
        id,
        tenantId: TENANT,
        recipients: [{ aadObjectId: PEOPLE.grady.objectId }],
        message: { text: 'by object ID' },
      },
      { connection: app.azurite.connectionString },
    );
    expect((await settled(app, id)).totals).toMatchObject({ sent: 1 });
    expect(sentTo(app, chat(PEOPLE.grady)).map((a) => a.body.text)).toContain('by object ID');
  });

  it('leaves the anonymous guest out of the roster (no object ID, no 1:1 chat possible)', async () => {
    expect(await store(app).getUserById(TENANT, PEOPLE.guest.id)).toBeUndefined();
    expect((await store(app).getTeam(TENANT, TEAM.id))?.memberCount).toBe(2);
  });

  it('teamRenamed updates the stored team name', async () => {
    expect((await store(app).getTeam(TENANT, TEAM.id))?.name).toBe(TEAM.name);
    expect((await app.post('messages', teamRenamed(app.connector.url, 'Contoso Platform'))).status).toBe(200);
    expect(await store(app).getTeam(TENANT, TEAM.id)).toMatchObject({
      name: 'Contoso Platform',
      installed: true,
    });
  });

  it('relays a documented channel @mention as a DM, and answers 200 to channel events it ignores', async () => {
    const res = await app.post(
      'messages',
      channelMessageWithMentions(app.connector.url, PEOPLE.adele, PEOPLE.grady, 'the release is out'),
    );
    expect(res.status).toBe(200);
    await eventually(
      () => sentTo(app, chat(PEOPLE.grady)).some((a) => String(a.body.text).includes('the release is out')),
      15_000,
      'DM to Grady',
    );
    expect((await app.post('messages', channelCreated(app.connector.url))).status).toBe(200);
  });
});

describe('5. card buttons', () => {
  const personalChat = 'a:1prod-personal-chat-adele';

  beforeAll(() => {
    app.connector.registerConversation(personalChat, {
      tenantId: TENANT,
      members: [{ id: PEOPLE.adele.id }],
    });
  });

  it('answers an adaptiveCard/action invoke with 200 and a Universal Actions message response', async () => {
    const res = await app.post(
      'messages',
      adaptiveCardAction(app.connector.url, PEOPLE.adele, personalChat, 'ack'),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.activity.message' });
    expect(typeof body.value).toBe('string');
  });

  it('does not answer an Action.Submit in a 1:1 chat as an unknown command (a typed message still is)', async () => {
    const before = sentTo(app, personalChat).length;
    const submit = actionSubmit(app.connector.url, PEOPLE.adele, personalChat, { choice: 'approve' });
    expect((await app.post('messages', submit)).status).toBe(200);
    const typed = personalMessage(app.connector.url, PEOPLE.adele, personalChat, 'what is this');
    expect((await app.post('messages', typed)).status).toBe(200);
    const replies = sentTo(app, personalChat)
      .slice(before)
      .map((a) => String(a.body.text));
    expect(replies).toHaveLength(1); // the typed message's reply only
    expect(replies[0]).toMatch(/Sorry, I only understand/);
  });

  it('answers the read receipt event 200 without a reply', async () => {
    const before = sentTo(app, personalChat).length;
    expect(
      (
        await app.post(
          'messages',
          readReceipt(app.connector.url, PEOPLE.adele, personalChat, '1763719544349'),
        )
      ).status,
    ).toBe(200);
    expect(sentTo(app, personalChat)).toHaveLength(before);
  });
});
