/**
 * Drives a running Playground through its own HTTP API, as its web UI does: installs, user messages,
 * custom activities (the UI's "Mock an Activity") and its mock tenant's config.
 */
import type { PlaygroundConfigResponse, PlaygroundMockConfig } from './mockData.js';

export interface SendMessageOptions {
  /**
   * Must be a member of the conversation (else 400 UserNotFound). Default: the current user.
   * NB the bot always receives the message `from` the current user, whatever this says.
   */
  from?: string;
  text: string;
  textFormat?: 'plain' | 'markdown' | 'xml';
  /**
   * @mentions. Each must be the bot or a member of the conversation (else 400 AccountNotFound).
   * `text` defaults to `<at>{display name}</at>`; the Playground does not check it occurs in the
   * message text. In channels and group chats the bot only gets messages that mention it.
   */
  mentions?: Array<{ id: string; text?: string }>;
}

export interface SendMessageResult {
  messageId: string;
  /** Set for channel messages: the conversation ID the bot sees (`<channelId>;messageid=<id>`). */
  postConversationId?: string;
  timestamp: number;
}

export type CustomActivityTemplateType =
  | 'install'
  | 'uninstall'
  | 'userAdded'
  | 'userRemoved'
  | 'botAdded'
  | 'botRemoved'
  | 'channelCreated'
  | 'channelRenamed'
  | 'channelDeleted'
  | 'teamRenamed'
  | 'teamDeleted'
  | 'sendEmail'
  | 'mentionInWord';

/** What the Playground's HTTP API lets a test or the sandbox do, as a user in Teams would. */
export interface PlaygroundDriver {
  /** GET /_internal/v1/config. NB it first waits (up to 15 s) for the bot endpoint to answer anything. */
  config(): Promise<PlaygroundConfigResponse>;
  /** The current user's personal chat conversation ID (cached). */
  personalChatId(): Promise<string>;
  /** Sends installationUpdate (add) + conversationUpdate (membersAdded) for the personal chat; returns its ID. */
  installInPersonalChat(): Promise<string>;
  /** Same for a team (`team-id` by default): the bot gets them in the General channel. */
  installInTeam(teamId?: string): Promise<void>;
  /** Sends installationUpdate (remove) + conversationUpdate (membersRemoved: bot). State is unchanged. */
  uninstall(conversationId: string): Promise<void>;
  /** Sends conversationUpdate membersRemoved [user] (eventType teamMemberRemoved). The roster is unchanged. */
  removeMember(userId: string, teamId?: string): Promise<void>;
  /** A user posts a message; the bot gets it asynchronously after this resolves. */
  sendMessage(conversationId: string, message: SendMessageOptions): Promise<SendMessageResult>;
  customActivityTemplate(
    conversationId: string,
    type?: CustomActivityTemplateType,
  ): Promise<Record<string, unknown>>;
  /** Posts an activity to the bot verbatim (no defaults added). */
  sendCustomActivity(activity: Record<string, unknown>): Promise<void>;
}

/** A driver for the Playground whose API is at `api` (http://127.0.0.1:<port>). */
export function drivePlayground(api: string): PlaygroundDriver {
  let cachedConfig: PlaygroundConfigResponse | undefined;

  async function request(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${api}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }
  async function ok(method: string, path: string, body?: unknown): Promise<string> {
    const res = await request(method, path, body);
    const text = await res.text();
    if (!res.ok) throw new Error(`Playground ${method} ${path} -> ${res.status} ${text}`);
    return text;
  }
  async function mockConfig(): Promise<PlaygroundMockConfig> {
    // testConfig is the same data without waiting for the bot endpoint.
    cachedConfig ??= JSON.parse(await ok('GET', '/_internal/v1/testConfig')) as PlaygroundConfigResponse;
    return cachedConfig.config;
  }
  async function displayName(id: string): Promise<string> {
    const c = await mockConfig();
    if (id === c.bot.id) return c.bot.name;
    return [c.currentUser, ...c.users].find((u) => u.id === id)?.name ?? id;
  }
  async function install(conversationId: string): Promise<void> {
    await ok('POST', `/_debug/conversation/${encodeURIComponent(conversationId)}/installation`, {});
  }
  async function template(
    conversationId: string,
    type?: CustomActivityTemplateType,
  ): Promise<Record<string, unknown>> {
    const q = new URLSearchParams({ conversationId, ...(type ? { type } : {}) });
    return JSON.parse(await ok('GET', `/_internal/v1/customActivities/template?${q}`)) as Record<
      string,
      unknown
    >;
  }
  async function sendCustom(activity: Record<string, unknown>): Promise<void> {
    await ok('POST', '/_internal/v1/customActivities', activity);
  }

  return {
    async config() {
      const c = JSON.parse(await ok('GET', '/_internal/v1/config')) as PlaygroundConfigResponse;
      cachedConfig = c;
      return c;
    },
    async personalChatId() {
      return (await mockConfig()).personalChat.id;
    },
    async installInPersonalChat() {
      const id = (await mockConfig()).personalChat.id;
      await install(id);
      return id;
    },
    async installInTeam(teamId = 'team-id') {
      await install(teamId);
    },
    async uninstall(conversationId) {
      await sendCustom(await template(conversationId, 'uninstall'));
      await sendCustom(await template(conversationId, 'botRemoved'));
    },
    async removeMember(userId, teamId = 'team-id') {
      const c = await mockConfig();
      const u = [c.currentUser, ...c.users].find((x) => x.id === userId);
      const activity = await template(teamId, 'userRemoved');
      activity['membersRemoved'] = [{ id: userId, ...(u ? { aadObjectId: u.aadObjectId } : {}) }];
      await sendCustom(activity);
    },
    async sendMessage(conversationId, m) {
      const from = m.from ?? (await mockConfig()).currentUser.id;
      const mentions = m.mentions
        ? await Promise.all(
            m.mentions.map(async (x) => ({
              mentioned: { id: x.id },
              text: x.text ?? `<at>${await displayName(x.id)}</at>`,
            })),
          )
        : undefined;
      const body = {
        from: { id: from },
        text: m.text,
        textFormat: m.textFormat ?? 'plain',
        ...(mentions ? { mentions } : {}),
      };
      const path = `/_conversation/v1/conversations/${encodeURIComponent(conversationId)}/messages`;
      return JSON.parse(await ok('POST', path, body)) as SendMessageResult;
    },
    customActivityTemplate: template,
    sendCustomActivity: sendCustom,
  };
}
