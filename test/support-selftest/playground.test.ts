/**
 * Proves test/support/playground.ts drives the real Microsoft 365 Agents Playground: a stand-in bot
 * (plain HTTP, answers 200, echoes messages back through the Playground's Bot Connector) receives
 * what the helpers send, and the helpers read back what the bot sent.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PLAYGROUND_DEFAULTS,
  TO_BOT,
  defaultConfigFile,
  parseEventsRecording,
  startPlayground,
} from '../support/playground.js';
import type { Playground, PlaygroundConfigFile } from '../support/playground.js';
import { accepts } from '../support/ports.js';
import { alive } from '../support/processes.js';

type Activity = Record<string, unknown> & {
  type: string;
  text?: string;
  serviceUrl: string;
  conversation: { id: string };
  from: { id: string };
  recipient: { id: string };
};

interface StandInBot {
  endpoint: string;
  received: Activity[];
  close(): Promise<void>;
}

/** Answers 200 to everything; on a message, replies "echo: <text>" through the activity's serviceUrl. */
async function startStandInBot(): Promise<StandInBot> {
  const received: Activity[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      void (async () => {
        if (req.method === 'POST' && body) {
          const activity = JSON.parse(body) as Activity;
          received.push(activity);
          if (activity.type === 'message' && activity.serviceUrl) {
            const id = encodeURIComponent(activity.conversation.id);
            await fetch(`${activity.serviceUrl}/v3/conversations/${id}/activities`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({
                type: 'message',
                text: `echo: ${activity.text ?? ''}`,
                from: activity.recipient,
                recipient: activity.from,
                conversation: activity.conversation,
              }),
            });
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/api/messages`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function connector(pg: Playground, method: string, path: string, body?: unknown) {
  const res = await fetch(`${pg.connectorUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

function createConversationBody(memberId: string) {
  const { tenantId, bot } = PLAYGROUND_DEFAULTS;
  return {
    bot: { id: bot.id },
    members: [{ id: memberId }],
    isGroup: false,
    tenantId,
    channelData: { tenant: { id: tenantId } },
  };
}

const BOT_ID = PLAYGROUND_DEFAULTS.bot.id;

describe('startPlayground', () => {
  let bot: StandInBot;
  let pg: Playground;

  beforeAll(async () => {
    bot = await startStandInBot();
    pg = await startPlayground({ botEndpoint: bot.endpoint });
  });
  afterAll(async () => {
    await pg?.stop();
    await bot?.close();
  });

  it('reports the port it really listens on and its connector URL', async () => {
    expect(pg.port).toBeGreaterThan(0);
    expect(pg.url).toBe(`http://localhost:${pg.port}`);
    expect(pg.connectorUrl).toBe(`http://localhost:${pg.port}/_connector`);
    expect(await accepts(pg.port)).toBe(true);
    expect(alive(pg.pid)).toBe(true);
  });

  it('config() returns the built-in mock tenant', async () => {
    const { config, internalConfig } = await pg.config();
    expect(internalConfig.channelId).toBe('msteams');
    expect(config.tenantId).toBe(PLAYGROUND_DEFAULTS.tenantId);
    expect(config.bot).toEqual(PLAYGROUND_DEFAULTS.bot);
    expect(config.currentUser).toEqual(PLAYGROUND_DEFAULTS.currentUser);
    expect(config.users).toEqual(PLAYGROUND_DEFAULTS.users);
    expect(config.teams[0]?.id).toBe('team-id');
    expect(await pg.personalChatId()).toBe(config.personalChat.id);
  });

  it('installInPersonalChat() sends installationUpdate and conversationUpdate(membersAdded)', async () => {
    const chatId = await pg.installInPersonalChat();
    const install = await pg.waitForActivity(
      (a) =>
        a['type'] === 'installationUpdate' && (a['conversation'] as Activity['conversation']).id === chatId,
    );
    expect(install).toMatchObject({
      action: 'add',
      serviceUrl: pg.connectorUrl,
      channelId: 'msteams',
      from: { id: 'user-id-0', aadObjectId: PLAYGROUND_DEFAULTS.currentUser.aadObjectId },
      recipient: { id: BOT_ID, name: 'Test Bot' },
      conversation: { conversationType: 'personal', tenantId: PLAYGROUND_DEFAULTS.tenantId },
    });
    const added = await pg.waitForActivity(
      (a) =>
        a['type'] === 'conversationUpdate' && (a['conversation'] as Activity['conversation']).id === chatId,
    );
    expect(added['membersAdded']).toEqual([
      { id: 'user-id-0', aadObjectId: PLAYGROUND_DEFAULTS.currentUser.aadObjectId },
      { id: BOT_ID },
    ]);
    expect(bot.received.some((a) => a.type === 'installationUpdate')).toBe(true);
  });

  it('installInTeam() sends a teamMemberAdded conversationUpdate with the team', async () => {
    await pg.installInTeam();
    const added = await pg.waitForActivity(
      (a) =>
        a['type'] === 'conversationUpdate' &&
        (a['channelData'] as { eventType?: string }).eventType === 'teamMemberAdded',
    );
    expect(added).toMatchObject({
      conversation: { id: 'team-id', conversationType: 'channel', isGroup: true },
      membersAdded: [{ id: BOT_ID }],
      channelData: {
        team: { id: 'team-id', name: 'My Team', aadGroupId: PLAYGROUND_DEFAULTS.team.aadGroupId },
        tenant: { id: PLAYGROUND_DEFAULTS.tenantId },
      },
    });
  });

  it('sendMessage() reaches the bot and messagesIn() reads back its reply', async () => {
    const chatId = await pg.personalChatId();
    const sent = await pg.sendMessage(chatId, { text: 'hello there' });
    expect(sent.messageId).toMatch(/^\d+/);
    const msg = await pg.waitForActivity((a) => a['type'] === 'message' && a['text'] === 'hello there');
    expect(msg).toMatchObject({ from: { id: 'user-id-0', name: 'Alex Wilber' }, recipient: { id: BOT_ID } });
    const reply = await pg.waitForEvent(
      (e) => e.displayText === 'echo: hello there' && e.direction !== TO_BOT,
    );
    expect(reply.response.statusCode).toBe(201);
    const messages = await pg.messagesIn(chatId);
    expect(messages.map((m) => m.text)).toContain('echo: hello there');
    expect(messages.find((m) => m.text === 'echo: hello there')?.id).toMatch(/^\d+/);
  });

  it('sendMessage() with mentions: the bot gets mention entities in a channel post conversation', async () => {
    const sent = await pg.sendMessage('team-id', {
      text: '<at>Test Bot</at> status <at>Megan Bowen</at>',
      mentions: [{ id: BOT_ID }, { id: 'user-id-1' }],
    });
    expect(sent.postConversationId).toBe(`team-id;messageid=${sent.messageId}`);
    const msg = await pg.waitForActivity(
      (a) => a['type'] === 'message' && (a['conversation'] as { id: string }).id === sent.postConversationId,
    );
    expect(msg['entities']).toEqual(
      expect.arrayContaining([
        { type: 'mention', mentioned: { id: BOT_ID, name: 'Test Bot' }, text: '<at>Test Bot</at>' },
        {
          type: 'mention',
          mentioned: { id: 'user-id-1', name: 'Megan Bowen' },
          text: '<at>Megan Bowen</at>',
        },
      ]),
    );
    expect(msg['channelData']).toMatchObject({ teamsTeamId: 'team-id', teamsChannelId: 'team-id' });
  });

  it('createConversationCalls() and messagesIn() see proactive 1:1 messages', async () => {
    const first = await connector(pg, 'POST', '/v3/conversations', createConversationBody('user-id-1'));
    const second = await connector(pg, 'POST', '/v3/conversations', createConversationBody('user-id-1'));
    expect(first.status).toBe(201);
    const convId = first.body?.['id'] as string;
    expect(convId).toMatch(/@test\.user$/);
    expect(second.body?.['id']).toBe(convId);

    const posted = await connector(pg, 'POST', `/v3/conversations/${encodeURIComponent(convId)}/activities`, {
      type: 'message',
      text: 'Your report is ready',
    });
    expect(posted.status).toBe(201);

    const calls = await pg.createConversationCalls();
    expect(calls.filter((c) => c.conversationId === convId)).toHaveLength(2);
    expect(calls[0]?.request).toMatchObject({ members: [{ id: 'user-id-1' }] });
    const messages = await pg.messagesIn(convId);
    expect(messages).toEqual([
      expect.objectContaining({ conversationId: convId, text: 'Your report is ready', statusCode: 201 }),
    ]);

    // An AAD object ID is not a member ID: the conversation is "created" but posting into it fails.
    const byAad = await connector(
      pg,
      'POST',
      '/v3/conversations',
      createConversationBody(PLAYGROUND_DEFAULTS.users[0].aadObjectId),
    );
    const aadConv = byAad.body?.['id'] as string;
    const failed = await connector(
      pg,
      'POST',
      `/v3/conversations/${encodeURIComponent(aadConv)}/activities`,
      {
        type: 'message',
        text: 'lost',
      },
    );
    expect(failed.status).toBe(500);
    expect(await pg.messagesIn(aadConv)).toEqual([]);
    expect(await pg.messagesIn(aadConv, { includeFailed: true })).toHaveLength(1);
  });

  it('uninstall() and removeMember() send the matching activities', async () => {
    const chatId = await pg.personalChatId();
    await pg.uninstall(chatId);
    await pg.waitForActivity(
      (a) =>
        a['type'] === 'installationUpdate' &&
        a['action'] === 'remove' &&
        (a['conversation'] as { id: string }).id === chatId,
    );
    await pg.removeMember('user-id-3');
    const removed = await pg.waitForActivity(
      (a) =>
        a['type'] === 'conversationUpdate' &&
        (a['channelData'] as { eventType?: string }).eventType === 'teamMemberRemoved',
    );
    expect(removed['membersRemoved']).toEqual([
      { id: 'user-id-3', aadObjectId: PLAYGROUND_DEFAULTS.users[2].aadObjectId },
    ]);
  });
});

describe('startPlayground with a config file', () => {
  it('replaces the mock data, fixes the personal chat ID, and stop() leaves nothing running', async () => {
    const config: PlaygroundConfigFile = defaultConfigFile();
    config.users[0] = {
      ...config.users[0],
      id: '29:dana',
      name: 'Dana Scully',
      userPrincipleName: 'dana.scully@contoso.test',
      email: 'dana@contoso.test',
      aadObjectId: 'aaaaaaaa-1111-2222-3333-444444444444',
    };
    const pg = await startPlayground({ botEndpoint: 'http://127.0.0.1:9/api/messages', configFile: config });
    try {
      expect(await pg.personalChatId()).toBe('personal-chat-id');
      const member = await connector(
        pg,
        'GET',
        `/v3/conversations/team-id/members/${encodeURIComponent('29:dana')}`,
      );
      expect(member.body).toMatchObject({
        id: '29:dana',
        aadObjectId: 'aaaaaaaa-1111-2222-3333-444444444444',
        userPrincipalName: 'dana.scully@contoso.test',
        email: 'dana@contoso.test',
      });
    } finally {
      await pg.stop();
    }
    expect(alive(pg.pid)).toBe(false);
    expect(await accepts(pg.port)).toBe(false);
  });

  it('rejects with the reason when the Playground refuses the config file', async () => {
    const config = defaultConfigFile();
    (config.team.channels as unknown[]).push({ id: 'a', name: 'A' }, { id: 'b', name: 'B' });
    await expect(
      startPlayground({ botEndpoint: 'http://127.0.0.1:9/api/messages', configFile: config }),
    ).rejects.toThrow(/must NOT have more than 1 items/);
  });
});

describe('parseEventsRecording', () => {
  // One block as docs/agents-playground-notes.md records the Playground's `--er` format.
  const block = (logId: string) =>
    JSON.stringify(
      {
        logId,
        timestamp: 1795640865722,
        direction: TO_BOT,
        activityName: 'message',
        request: { headers: {}, body: { type: 'message', text: 'hi' }, url: '/api/messages', method: 'POST' },
        response: { statusCode: 200 },
      },
      null,
      2,
    );
  it('reads the whole blocks of a file the Playground is still appending to, and no more', () => {
    const whole = `${block('a')}\n---\n${block('b')}\n---\n`;
    expect(parseEventsRecording(whole).map((e) => e.logId)).toEqual(['a', 'b']);
    // Read mid-append: the last block is cut off and is left for the next read.
    const cut = whole + block('c').slice(0, 40);
    expect(parseEventsRecording(cut).map((e) => e.logId)).toEqual(['a', 'b']);
    // A broken block before the last is not the append in progress: an error.
    expect(() => parseEventsRecording(`${block('a').slice(0, 40)}\n---\n${block('b')}\n---\n`)).toThrow();
  });
});
