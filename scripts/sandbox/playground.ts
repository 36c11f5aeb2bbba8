/**
 * Drives Microsoft 365 Agents Playground (`@microsoft/m365agentsplayground`), the local Teams
 * look-alike, for end-to-end tests and the `npm start` sandbox. See docs/agents-playground-notes.md
 * for the observed behaviour this module relies on.
 *
 * The Playground plays both Teams clients (it sends activities to the bot) and the Bot Connector
 * service (it serves `<url>/_connector/v3/...`, the `serviceUrl` of its activities). It keeps its
 * state in memory and has no HTTP API that lists messages, so this module reads its events
 * recording (`--er`), a file it appends every exchange to, synchronously, as it happens.
 *
 * Kept free of vitest imports so a plain Node process (the sandbox) can use it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// ---------------------------------------------------------------------------------------------
// Mock data types
// ---------------------------------------------------------------------------------------------

/** A user as the Playground's config (file and GET /_internal/v1/config) spells it. */
export interface PlaygroundUser {
  /** Channel account ID (what `from.id`, `members[].id` and POST /v3/conversations use). */
  id: string;
  name: string;
  /** Sic: the Playground's config says "Principle". The connector API answers `userPrincipalName`. */
  userPrincipleName: string;
  aadObjectId: string;
  givenName: string;
  surname: string;
  email: string;
}

export interface PlaygroundBot {
  id: string;
  name: string;
  agenticUserId?: string;
  agenticAppId?: string;
  tenantId?: string;
  role?: 'user' | 'bot' | 'agenticUser';
}

export interface PlaygroundChannel {
  id: string;
  name: string;
  channelType: string;
}

export interface PlaygroundTeam {
  id: string;
  name: string;
  aadGroupId: string;
  /** The General channel first; its ID is the team ID. */
  channels: PlaygroundChannel[];
  /** IDs of `users` (the current user is a member too but not listed here). */
  members: string[];
}

export interface PlaygroundGroupChat {
  id: string;
  name: string;
  members: string[];
}

/** `config` of GET /_internal/v1/config: the mock tenant as the Playground loaded it. */
export interface PlaygroundMockConfig {
  tenantId: string;
  bot: PlaygroundBot;
  /** The user the Playground acts as: every message it sends to the bot is `from` this user. */
  currentUser: PlaygroundUser;
  /** Always exactly five (the config file schema demands it). */
  users: PlaygroundUser[];
  /** The current user's 1:1 chat with the bot. Its ID is random per run unless fixed. */
  personalChat: { id: string; name: string };
  groupChats: PlaygroundGroupChat[];
  teams: PlaygroundTeam[];
}

export interface PlaygroundConfigResponse {
  config: PlaygroundMockConfig;
  internalConfig: {
    locale: string;
    localTimezone: string;
    channelId: string;
    debugConfig?: { eventsRecordingEnabled: boolean; deliveryMode?: string };
  };
}

/**
 * The config file (`.m365agentsplayground.yml`, schema version 0.1.1) that replaces the mock data.
 * JSON is valid YAML, so this object is written as JSON. Exactly five `users` and at most one
 * extra channel besides General, or the Playground refuses to start.
 */
export interface PlaygroundConfigFile {
  version: '0.1.0' | '0.1.1';
  tenantId: string;
  bot: PlaygroundBot;
  currentUser: PlaygroundUser;
  users: [PlaygroundUser, PlaygroundUser, PlaygroundUser, PlaygroundUser, PlaygroundUser];
  personalChat: { id: string };
  groupChat: { id: string; name: string };
  team: { id: string; name: string; aadGroupId: string; channels: [] | [{ id: string; name: string }] };
}

type MockTenant = Omit<PlaygroundConfigFile, 'version' | 'personalChat' | 'groupChat'>;

/** The Playground's built-in mock data (only the personal and group chat IDs differ per run). */
export const PLAYGROUND_DEFAULTS: Readonly<MockTenant> = {
  tenantId: '00000000-0000-0000-0000-0000000000001',
  bot: { id: '00000000-0000-0000-0000-00000000000011', name: 'Test Bot' },
  currentUser: user('user-id-0', 'Alex', 'Wilber', 'alexw', '20'),
  users: [
    user('user-id-1', 'Megan', 'Bowen', 'meganb', '21'),
    user('user-id-2', 'Adele', 'Vance', 'adelev', '22'),
    // Sic: the built-in data gives Isaiah different UPN and email local parts.
    { ...user('user-id-3', 'Isaiah', 'Langer', 'isaiah', '23'), email: 'isaiahl@example.com' },
    user('user-id-4', 'Patti', 'Fernandez', 'pattif', '24'),
    user('user-id-5', 'Lynne', 'Robbins', 'lynner', '25'),
  ],
  team: {
    id: 'team-id',
    name: 'My Team',
    aadGroupId: '00000000-0000-0000-0000-000000000031',
    channels: [{ id: 'channel-announcements-id', name: 'Announcements' }],
  },
};

function user(id: string, givenName: string, surname: string, local: string, n: string): PlaygroundUser {
  return {
    id,
    name: `${givenName} ${surname}`,
    userPrincipleName: `${local}@example.com`,
    aadObjectId: `00000000-0000-0000-0000-00000000000${n}`,
    givenName,
    surname,
    email: `${local}@example.com`,
  };
}

/**
 * A config file equal to the built-in mock data, with fixed chat IDs, as a starting point for a
 * custom one (e.g. replace a user to get a UPN of your choice; there are always exactly five).
 */
export function defaultConfigFile(): PlaygroundConfigFile {
  return {
    version: '0.1.1',
    ...structuredClone(PLAYGROUND_DEFAULTS),
    personalChat: { id: 'personal-chat-id' },
    groupChat: { id: 'group-chat-id', name: 'Group Chat' },
  };
}

// ---------------------------------------------------------------------------------------------
// Events recording
// ---------------------------------------------------------------------------------------------

/** `direction` of an event the Playground sent to the bot (only recorded if the bot answered 2xx). */
export const TO_BOT = 'Microsoft 365 Agents Playground -> User Application';
/** `direction` of a Bot Connector call the bot made to the Playground (recorded whatever the status). */
export const FROM_BOT = 'User Application -> Microsoft 365 Agents Playground';

/** One block of the `--er` events recording. */
export interface PlaygroundEvent {
  logId: string;
  /** ms since epoch; for TO_BOT events the time the request started. */
  timestamp: number;
  /** `conversation.id` of the request body, if it had one (Bot Connector calls often don't). */
  conversationId?: string;
  direction: string;
  /**
   * Activity type for activities (`installationUpdate`, `conversationUpdate`, `message`, `typing`,
   * ...); for connector calls without an activity: `createConversation`, `getConversationMember`,
   * `getConversationMembers`, `getConversationPagedMembers`, `getConversations`, `fetchTeamDetails`.
   */
  activityName: string;
  messageId?: string;
  request: {
    headers: Record<string, string | string[] | undefined>;
    /** Activity or request body ({} for GETs). */
    body: Record<string, unknown>;
    /** TO_BOT: the bot endpoint; FROM_BOT: the path as sent, e.g. `/_connector/v3/conversations`. */
    url: string;
    method: string;
  };
  /** `body` is missing when the Playground answered without one (e.g. 202 for typing). */
  response: { statusCode: number; body?: unknown };
  displayText?: string;
}

/**
 * Parses an events recording file's text (JSON blocks separated by `\n---\n`). The Playground may be
 * appending while the file is read (seen once with two test suites on 2 cores): a last block that is
 * not whole JSON yet is left for the next read; any other bad block is an error.
 */
export function parseEventsRecording(text: string): PlaygroundEvent[] {
  const blocks = text
    .split('\n---\n')
    .map((block) => block.trim())
    .filter((block) => block.length > 0);
  return blocks.flatMap((block, i) => {
    try {
      return [JSON.parse(block) as PlaygroundEvent];
    } catch (err) {
      if (i === blocks.length - 1) return [];
      throw err;
    }
  });
}

/** A message the bot posted into a conversation through the Playground's Bot Connector. */
export interface RecordedMessage {
  /** Activity ID the Playground assigned (a ms timestamp string), if it accepted the message. */
  id?: string;
  conversationId: string;
  /** Set when the bot posted to `/activities/{replyToId}` (replyToActivity). */
  replyToId?: string;
  text?: string;
  activity: Record<string, unknown>;
  statusCode: number;
  timestamp: number;
}

export interface RecordedCreateConversation {
  request: Record<string, unknown>;
  statusCode: number;
  /** The conversation ID the Playground answered with (on 201). */
  conversationId?: string;
  timestamp: number;
}

const ACTIVITIES_PATH = /^\/_connector\/v3\/conversations\/([^/?]+)\/activities(?:\/([^/?]+))?\/?(?:\?.*)?$/;

function toRecordedMessage(e: PlaygroundEvent): RecordedMessage | undefined {
  if (e.direction !== FROM_BOT || e.request.method !== 'POST') return undefined;
  const m = ACTIVITIES_PATH.exec(e.request.url);
  if (!m?.[1] || e.request.body['type'] !== 'message') return undefined;
  const resBody = e.response.body as { id?: unknown } | undefined;
  const text = e.request.body['text'];
  return {
    id: typeof resBody?.id === 'string' ? resBody.id : undefined,
    conversationId: decodeURIComponent(m[1]),
    replyToId: m[2] ? decodeURIComponent(m[2]) : undefined,
    text: typeof text === 'string' ? text : undefined,
    activity: e.request.body,
    statusCode: e.response.statusCode,
    timestamp: e.timestamp,
  };
}

// ---------------------------------------------------------------------------------------------
// The Playground process
// ---------------------------------------------------------------------------------------------

export interface PlaygroundOptions {
  /** The bot's messaging endpoint, e.g. `http://127.0.0.1:3978/api/messages`. */
  botEndpoint: string;
  /**
   * Port to listen on. Default 0: a random free one. If the port is taken the Playground silently
   * picks a random one instead; `port` of the result is the one it really uses.
   */
  port?: number;
  /**
   * Working directory (the Playground looks for `.m365agentsplayground.yml` there and writes
   * `devTools/` under it). Default: a fresh temp directory, removed by stop() unless `keepFiles`.
   */
  cwd?: string;
  /** Replaces the built-in mock data (written to `<cwd>/playground-config.yml`). */
  configFile?: PlaygroundConfigFile;
  /** Fixes the personal chat's conversation ID (`--conversation-id`); default random per run. */
  personalChatId?: string;
  /** Keep the temp working directory (recording, log) after stop(). */
  keepFiles?: boolean;
  /** Extra environment for the Playground process. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

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

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

export interface Playground {
  /** The Playground web UI / API base, `http://localhost:<port>` (as the Playground names itself). */
  url: string;
  port: number;
  pid: number;
  /** Bot Connector base URL, exactly the `serviceUrl` of its activities: `http://localhost:<port>/_connector`. */
  connectorUrl: string;
  cwd: string;
  eventsFile: string;
  logFile: string;
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
  /** Everything recorded so far, oldest first (TO_BOT ones are appended when the bot answers). */
  events(): Promise<PlaygroundEvent[]>;
  /** Activities the Playground delivered to the bot and the bot answered with 2xx. */
  activitiesToBot(): Promise<Array<Record<string, unknown>>>;
  /** The bot's POST /v3/conversations calls. */
  createConversationCalls(): Promise<RecordedCreateConversation[]>;
  /**
   * Messages the bot POSTed to `/v3/conversations/{conversationId}/activities[/{replyToId}]`
   * (matched on the ID in that URL, so channel-root posts are under the channel ID), oldest first;
   * by default only those the Playground accepted (2xx). Updates (PUT) are not included.
   */
  messagesIn(conversationId: string, opts?: { includeFailed?: boolean }): Promise<RecordedMessage[]>;
  /** Polls events() until `predicate` matches one; returns it. */
  waitForEvent(predicate: (e: PlaygroundEvent) => boolean, opts?: WaitOptions): Promise<PlaygroundEvent>;
  /** Polls activitiesToBot() until `predicate` matches one; returns it. */
  waitForActivity(
    predicate: (a: Record<string, unknown>) => boolean,
    opts?: WaitOptions,
  ): Promise<Record<string, unknown>>;
  /** Last lines of the Playground's own log (where it reports errors; it prints nothing else). */
  logTail(lines?: number): Promise<string>;
  /** Resolves when the process exits, for whatever reason. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills the process (SIGKILL; it has nothing to flush) and waits for it. Safe to call twice. */
  stop(): Promise<void>;
}

// Resolved through the package (not node_modules/.bin) so it works from src and from dist/.
const PLAYGROUND_BIN = join(
  dirname(createRequire(import.meta.url).resolve('@microsoft/m365agentsplayground/package.json')),
  'cli.js',
);
const DEFAULT_START_TIMEOUT_MS = 30_000;

// Preloaded into the Playground: die when the IPC channel to us closes, i.e. when the parent
// dies, even by SIGKILL (where no 'exit' handler of ours could run). SIGKILL rather than
// process.exit(): its exit handlers take ~1.5 s.
const WATCHDOG = 'data:text/javascript,process.on("disconnect",()=>process.kill(process.pid,"SIGKILL"));';

// Belt and braces for normal exits without stop(): kill what still runs, drop our temp dirs.
const running = new Map<ChildProcess, string | undefined>();
let exitHookInstalled = false;
function track(child: ChildProcess, tempDir: string | undefined): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const [c, dir] of running) {
        killTree(c);
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
    });
  }
  running.set(child, tempDir);
  child.once('exit', () => running.delete(child));
}

function killTree(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Detached: it leads its own process group, so this also gets anything it spawned.
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

async function tail(file: string, lines: number): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPlayground(opts: PlaygroundOptions): Promise<Playground> {
  if (opts.configFile && opts.configFile.users.length !== 5) {
    throw new Error('A Playground config file needs exactly 5 users');
  }
  const startTimeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const ownCwd = opts.cwd === undefined;
  const cwd = opts.cwd ?? (await mkdtemp(join(tmpdir(), 'playground-')));
  const eventsFile = join(cwd, 'devTools', 'events_recording.log');
  const logFile = join(cwd, 'devTools', 'm365agentsplayground.log');

  const env: Record<string, string | undefined> = {
    ...process.env,
    TEAMSAPPTESTER_BROWSER: 'none',
    M365_AGENTS_PLAYGROUND_RECORDING_FILE: eventsFile,
    M365_AGENTS_PLAYGROUND_LOGFILE: logFile,
    // It installs a global proxy interceptor; never send the bot's traffic through a proxy.
    NO_PROXY: ['localhost', '127.0.0.1', '::1', process.env['NO_PROXY']].filter(Boolean).join(','),
    no_proxy: ['localhost', '127.0.0.1', '::1', process.env['no_proxy']].filter(Boolean).join(','),
    ...opts.env,
  };
  // It appends to the recording; a reused cwd must not show the previous run's events.
  await rm(eventsFile, { force: true });
  if (opts.configFile) {
    const configPath = join(cwd, 'playground-config.yml');
    await writeFile(configPath, JSON.stringify(opts.configFile, null, 2));
    env['M365_AGENTS_PLAYGROUND_CONFIG_PATH'] = configPath;
  }

  const args = [
    '--import',
    WATCHDOG,
    PLAYGROUND_BIN,
    ...['-e', opts.botEndpoint, '-c', 'msteams', '--dt', '--er', '-p', String(opts.port ?? 0)],
    ...(opts.personalChatId ? ['--conversation-id', opts.personalChatId] : []),
  ];
  const child = spawn(process.execPath, args, {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  track(child, ownCwd && !opts.keepFiles ? cwd : undefined);

  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const cleanup = async () => {
    child.ref(); // or a script with nothing else to do would exit before 'exit' arrives
    killTree(child);
    await exited;
    if (ownCwd && !opts.keepFiles) await rm(cwd, { recursive: true, force: true });
  };

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Playground did not start within ${startTimeoutMs} ms`)),
        startTimeoutMs,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const m = /^Listening on (\d+)\s*$/m.exec(output);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`Playground exited early (code ${code}, signal ${signal})`));
      });
    });
    // "Listening on" comes first; then it mounts its API, or (bad config file) exits with status 1.
    await waitUntilReady(`http://127.0.0.1:${port}`, child, startTimeoutMs);
  } catch (err) {
    const log = await tail(logFile, 20);
    await cleanup();
    throw new Error(`${(err as Error).message}\n--- output ---\n${output}\n--- log ---\n${log}`, {
      cause: err,
    });
  }

  // Don't let a forgotten stop() keep the parent alive; the exit hook and watchdog still apply.
  child.unref();
  child.channel?.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();

  const api = `http://127.0.0.1:${port}`;
  const url = `http://localhost:${port}`;
  let cachedConfig: PlaygroundConfigResponse | undefined;
  let stopped: Promise<void> | undefined;

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
  async function events(): Promise<PlaygroundEvent[]> {
    if (!existsSync(eventsFile)) return [];
    return parseEventsRecording(await readFile(eventsFile, 'utf8'));
  }
  async function activitiesToBot(): Promise<Array<Record<string, unknown>>> {
    return (await events()).filter((e) => e.direction === TO_BOT).map((e) => e.request.body);
  }
  async function poll<T>(get: () => Promise<T | undefined>, what: string, o: WaitOptions = {}): Promise<T> {
    const deadline = Date.now() + (o.timeoutMs ?? 10_000);
    for (;;) {
      const found = await get();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
      await sleep(o.intervalMs ?? 50);
    }
  }

  return {
    url,
    port,
    pid: child.pid!,
    connectorUrl: `${url}/_connector`,
    cwd,
    eventsFile,
    logFile,
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
    events,
    activitiesToBot,
    async createConversationCalls() {
      return (await events())
        .filter((e) => e.direction === FROM_BOT && e.activityName === 'createConversation')
        .map((e) => {
          const id = (e.response.body as { id?: unknown } | undefined)?.id;
          return {
            request: e.request.body,
            statusCode: e.response.statusCode,
            conversationId: typeof id === 'string' ? id : undefined,
            timestamp: e.timestamp,
          };
        });
    },
    async messagesIn(conversationId, o = {}) {
      return (await events())
        .map(toRecordedMessage)
        .filter((m): m is RecordedMessage => m !== undefined && m.conversationId === conversationId)
        .filter((m) => o.includeFailed || (m.statusCode >= 200 && m.statusCode < 300));
    },
    waitForEvent(predicate, o) {
      return poll(async () => (await events()).find(predicate), 'a Playground event', o);
    },
    waitForActivity(predicate, o) {
      return poll(async () => (await activitiesToBot()).find(predicate), 'an activity to the bot', o);
    },
    logTail(lines = 40) {
      return tail(logFile, lines);
    },
    exited: () => exited,
    stop() {
      stopped ??= cleanup();
      return stopped;
    },
  };
}

async function waitUntilReady(api: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Playground exited (code ${child.exitCode}); a bad config file is the usual cause`);
    }
    try {
      const res = await fetch(`${api}/_debug/ping`);
      if (res.ok && (await res.text()) === 'pong') return;
    } catch {
      // not accepting yet
    }
    if (Date.now() > deadline) throw new Error('Playground API did not come up');
    await sleep(50);
  }
}
