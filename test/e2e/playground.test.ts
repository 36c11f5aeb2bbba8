/**
 * End to end against Microsoft 365 Agents Playground: the sandbox stack that `npm start` runs
 * (Azurite, the compiled app on the local host as a child process, the Playground), driven through
 * the Playground's own APIs the way a Teams user would, and checked by what the Playground recorded.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueNotification } from '../../shared/jobs/producer.js';
import type { JobStatus } from '../../functions/getNotification/jobStatus.js';
import { TableConversationStore } from '../../shared/azureStorage/tableConversationStore.js';
import { chromiumMissing, screenshotDm } from '../../scripts/sandbox/screenshot.js';
import { storageConnection } from '../../scripts/sandbox/settings.js';
import type { Sandbox } from '../../scripts/sandbox/stack.js';
import { ROOT, eventually } from '../support/app.js';
import { PLAYGROUND_DEFAULTS, type Playground } from '../support/playground.js';
import { startPlaygroundSandbox } from '../support/sandboxPorts.js';

const TENANT = PLAYGROUND_DEFAULTS.tenantId;
const BOT_ID = PLAYGROUND_DEFAULTS.bot.id;
const [MEGAN, ADELE] = [PLAYGROUND_DEFAULTS.users[0], PLAYGROUND_DEFAULTS.users[1]];

describe('the sandbox against Agents Playground', () => {
  let sandbox: Sandbox;
  let pg: Playground;
  let users: TableConversationStore;
  let personalChat: string;

  beforeAll(async () => {
    ({ sandbox, pg, users } = await startPlaygroundSandbox());
    personalChat = await pg.personalChatId();
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  async function notify(to: string, text: string): Promise<string> {
    const { jobId } = await enqueueNotification(
      { tenantId: TENANT, recipients: [{ upn: to }], message: { text } },
      { connection: storageConnection(sandbox.ports) },
    );
    return jobId;
  }

  async function settled(jobId: string): Promise<JobStatus> {
    return eventually(
      async () => {
        const res = await fetch(`${sandbox.app.url}/api/notifications/${encodeURIComponent(jobId)}`);
        const body = res.ok ? ((await res.json()) as JobStatus) : undefined;
        return body?.complete ? body : undefined;
      },
      20_000,
      `job ${jobId} to settle`,
    );
  }

  const texts = async (conversationId: string) => (await pg.messagesIn(conversationId)).map((m) => m.text);
  const createsFor = async (userId: string) =>
    (await pg.createConversationCalls()).filter(
      (c) => (c.request['members'] as Array<{ id: string }> | undefined)?.[0]?.id === userId,
    );

  it('installing the bot for the Playground user stores the reference and the user sees a welcome DM', async () => {
    await pg.installInPersonalChat();
    const welcome = await eventually(
      async () => (await texts(personalChat)).find((t) => t?.startsWith('Hi Alex Wilber!')),
      15_000,
      'the welcome message',
    );
    expect(welcome).toContain('**stop**');
    const alex = await users.getUser(TENANT, { kind: 'upn', value: 'alexw@example.com' });
    expect(alex).toMatchObject({
      userId: 'user-id-0',
      conversationId: personalChat,
      serviceUrl: pg.connectorUrl,
      aadObjectId: PLAYGROUND_DEFAULTS.currentUser.aadObjectId,
    });
    expect(alex?.sources).toContain('personal');
    // Installing again (the Playground page does on every load) does not welcome twice.
    await pg.installInPersonalChat();
    // The Playground records an activity once the bot has answered it, i.e. handled it.
    await eventually(
      async () =>
        (await pg.activitiesToBot()).filter(
          (a) =>
            a['type'] === 'installationUpdate' && (a['conversation'] as { id: string }).id === personalChat,
        ).length === 2,
      10_000,
      'the second install to be handled',
    );
    expect((await texts(personalChat)).filter((t) => t?.startsWith('Hi Alex Wilber!'))).toHaveLength(1);
  });

  it('installing it in the team stores every roster member', async () => {
    await pg.installInTeam();
    const roster = [PLAYGROUND_DEFAULTS.currentUser, ...PLAYGROUND_DEFAULTS.users];
    for (const member of roster) {
      const stored = await eventually(
        async () => {
          const user = await users.getUser(TENANT, { kind: 'upn', value: member.userPrincipleName });
          return user?.sources.includes('team:team-id') ? user : undefined;
        },
        15_000,
        `${member.name} to be stored`,
      );
      expect(stored).toMatchObject({ userId: member.id, aadObjectId: member.aadObjectId, name: member.name });
    }
    const team = await users.getTeam(TENANT, 'team-id');
    expect(team).toMatchObject({ name: 'My Team', installed: true });
  });

  it('a job by UPN to a member who never talked to the bot opens a chat once and reuses it', async () => {
    expect(await createsFor(MEGAN.id)).toHaveLength(0);

    const first = await settled(await notify(MEGAN.userPrincipleName, 'Deploy 1 is done'));
    expect(first.totals).toMatchObject({ sent: 1, failed: 0, skipped: 0 });
    const creates = await createsFor(MEGAN.id);
    expect(creates).toHaveLength(1);
    expect(creates[0]?.statusCode).toBe(201);
    expect(creates[0]?.request).toMatchObject({ isGroup: false, channelData: { tenant: { id: TENANT } } });
    const chat = creates[0]!.conversationId!;
    expect(chat).toMatch(/@test\.user$/);
    expect(await texts(chat)).toEqual(['Deploy 1 is done']);

    const second = await settled(await notify(MEGAN.userPrincipleName, 'Deploy 2 is done'));
    expect(second.totals).toMatchObject({ sent: 1 });
    expect(await createsFor(MEGAN.id)).toHaveLength(1);
    expect(await texts(chat)).toEqual(['Deploy 1 is done', 'Deploy 2 is done']);
    // It is Megan's chat, not Alex's.
    expect(await texts(personalChat)).not.toContain('Deploy 1 is done');
  });

  it('"stop" in the 1:1 chat makes the next job skip the user; "start" turns it back on', async () => {
    await pg.sendMessage(personalChat, { text: 'stop' });
    await eventually(
      async () => (await users.getUser(TENANT, { kind: 'userId', value: 'user-id-0' }))?.optedOut,
      10_000,
      'the opt-out to be stored',
    );
    const skipped = await settled(await notify('alexw@example.com', 'You should not see this'));
    expect(skipped.totals).toMatchObject({ sent: 0, skipped: 1 });
    expect(skipped.recipients[0]).toMatchObject({ status: 'skipped', reason: 'OptedOut' });
    expect(await texts(personalChat)).not.toContain('You should not see this');

    await pg.sendMessage(personalChat, { text: 'start' });
    await eventually(
      async () => (await users.getUser(TENANT, { kind: 'userId', value: 'user-id-0' }))?.optedOut === false,
      10_000,
      'the opt-in to be stored',
    );
    const sent = await settled(await notify('alexw@example.com', 'Welcome back'));
    expect(sent.totals).toMatchObject({ sent: 1 });
    expect(await texts(personalChat)).toContain('Welcome back');
  });

  it('"@Test Bot tell @Adele the build is green" in a channel DMs Adele and confirms in the thread', async () => {
    const post = await pg.sendMessage('team-id', {
      text: '<at>Test Bot</at> tell <at>Adele Vance</at> the build is green',
      mentions: [{ id: BOT_ID }, { id: ADELE.id }],
    });
    const create = await eventually(async () => (await createsFor(ADELE.id))[0], 15_000, 'a chat with Adele');
    const dm = await eventually(
      async () => (await pg.messagesIn(create.conversationId!))[0],
      15_000,
      'the DM to Adele',
    );
    expect(dm.text).toContain('asked me to tell you');
    expect(dm.text).toContain('the build is green');
    expect(dm.text).toContain('Alex Wilber');
    const confirmation = await eventually(
      async () => (await pg.messagesIn(post.postConversationId!)).find((m) => m.text?.includes('Adele')),
      15_000,
      'the confirmation in the thread',
    );
    expect(confirmation.text).toBe('Sent Adele Vance a DM.');
  });
});

describe('the browser check', () => {
  const missing = chromiumMissing();
  if (missing) console.log(`Skipping the browser check: ${missing}`);

  it.skipIf(missing !== undefined)(
    'headless Chromium shows the DM in the Playground page',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sandbox-shot-'));
      try {
        const file = join(dir, 'sandbox-dm.png');
        const { text, chatPreview, chatText } = await screenshotDm(
          ROOT,
          file,
          'Your expense report was approved',
        );
        // The chat list shows the DM as the personal chat's latest message, and the open chat shows it.
        expect(chatPreview).toContain('Your expense');
        expect(chatText).toContain(text);
        expect(chatText).toContain('Hi Alex Wilber!');
        expect((await stat(file)).size).toBeGreaterThan(10_000);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    180_000,
  );
});
