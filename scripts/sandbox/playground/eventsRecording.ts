/**
 * The Playground's events recording (`--er`): a file it appends every exchange to, synchronously, as
 * it happens (it has no HTTP API that lists messages), and a reader of what the bot sent and got.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

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

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/** What a test or the sandbox reads of a running Playground's recording. */
export interface RecordingReader {
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
}

export function readRecording(eventsFile: string): RecordingReader {
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
  };
}
