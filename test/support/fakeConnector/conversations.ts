/**
 * The Bot Connector operations of the Teams-like fake connector and what they keep: 1:1
 * conversations, the messages posted, updated and deleted in them, and rosters.
 */
import { createHash } from 'node:crypto';
import { faultReply, type ErrorFault } from './faults.js';
import { rosterReply, type TeamsMember } from './roster.js';
import { isRecord, tenantOf, type ParsedPath } from './routes.js';
import { errorReply, type Reply } from './teamsErrors.js';

export interface FakeConversation {
  id: string;
  tenantId?: string;
  botId?: string;
  members: TeamsMember[];
  /** How many createConversation calls answered with this ID. 0 if registered by the test. */
  createCount: number;
}

export interface AcceptedActivity {
  seq: number;
  at: number;
  conversationId: string;
  activityId: string;
  replyToId?: string;
  body: Record<string, unknown>;
}

export interface DeletedActivity {
  seq: number;
  at: number;
  conversationId: string;
  activityId: string;
}

export interface ConversationOptions {
  /** Activity request bodies larger than this answer 413 MessageSizeTooBig. */
  maxActivityBytes: number;
  /** If set, only these user IDs can get a 1:1 conversation; others get unknownMemberFault. */
  knownMembers?: Iterable<string>;
  unknownMemberFault: ErrorFault;
}

export interface Conversations {
  /** Replaced (not emptied) by reset(), so records a test still holds are not mutated under it. */
  accepted: AcceptedActivity[];
  updated: AcceptedActivity[];
  deleted: DeletedActivity[];
  conversations: Map<string, FakeConversation>;
  /** The normal answer to a Bot Connector operation. */
  handle(p: ParsedPath, body: unknown, bytes: number): Reply;
  /** The tenant a request is counted in for throttling. */
  tenantFor(p: ParsedPath, body: unknown): string;
  setRoster(teamOrConversationId: string, members: TeamsMember[]): void;
  setKnownMembers(userIds: Iterable<string> | undefined): void;
  registerConversation(id: string, init?: Partial<Omit<FakeConversation, 'id' | 'createCount'>>): void;
  conversationIdFor(tenantId: string, userId: string, botId?: string): string;
  reset(): void;
}

export function createConversations(opts: ConversationOptions): Conversations {
  const conversations = new Map<string, FakeConversation>();
  const rosters = new Map<string, TeamsMember[]>();
  // Messages that exist now, by conversation: what PUT and DELETE may name.
  const live = new Map<string, Set<string>>();
  let knownMembers = opts.knownMembers ? new Set(opts.knownMembers) : undefined;
  let activitySeq = 0;
  const activityIdBase = Date.now();

  const conversationIdFor = (tenantId: string, userId: string, botId = ''): string =>
    `a:1${createHash('sha256').update(`${tenantId}|${userId}|${botId}`).digest('base64url').slice(0, 43)}`;

  function createConversation(body: unknown): Reply {
    const members = isRecord(body) && Array.isArray(body.members) ? (body.members as unknown[]) : [];
    const member = members[0];
    if (!isRecord(body) || members.length !== 1 || !isRecord(member) || typeof member.id !== 'string') {
      return errorReply(400, 'BadArgument', 'A 1:1 conversation needs exactly one member with an id.');
    }
    if (body.isGroup === true) return errorReply(400, 'BadArgument', 'Bots cannot create group chats.');
    const tenantId = tenantOf(body);
    if (typeof tenantId !== 'string' || !tenantId)
      return errorReply(400, 'BadArgument', 'Tenant ID is required.');
    if (knownMembers && !knownMembers.has(member.id)) return faultReply(opts.unknownMemberFault);
    const botId = isRecord(body.bot) && typeof body.bot.id === 'string' ? body.bot.id : undefined;
    const id = conversationIdFor(tenantId, member.id, botId);
    let conversation = conversations.get(id);
    if (!conversation) {
      conversation = {
        id,
        tenantId,
        botId,
        members: [{ ...(member as unknown as TeamsMember), tenantId }],
        createCount: 0,
      };
      conversations.set(id, conversation);
    }
    conversation.createCount++;
    return { status: 201, body: { id } };
  }

  function postActivity(p: ParsedPath, body: unknown, bytes: number): Reply {
    const conversationId = p.conversationId!;
    if (!conversations.has(conversationId))
      return errorReply(404, 'ConversationNotFound', 'Conversation not found.');
    if (!isRecord(body) || typeof body.type !== 'string') {
      return errorReply(400, 'BadArgument', 'The activity must be a JSON object with a type.');
    }
    if (bytes > opts.maxActivityBytes) return errorReply(413, 'MessageSizeTooBig', 'Message size too big.');
    if (p.route === 'updateActivity') {
      // Naming a message the conversation does not hold (never sent, or deleted) is 404
      // ActivityNotFoundInConversation, per "Status codes from bot conversational APIs":
      // https://learn.microsoft.com/microsoftteams/platform/bots/build-conversational-capability#status-codes-from-bot-conversational-apis
      if (!live.get(conversationId)?.has(p.activityId!)) return activityNotFound();
      state.updated.push({
        seq: state.updated.length + 1,
        at: Date.now(),
        conversationId,
        activityId: p.activityId!,
        body,
      });
      return { status: 200, body: { id: p.activityId } };
    }
    const activityId = String(activityIdBase + ++activitySeq);
    if (!live.has(conversationId)) live.set(conversationId, new Set());
    live.get(conversationId)!.add(activityId);
    const entry: AcceptedActivity = {
      seq: state.accepted.length + 1,
      at: Date.now(),
      conversationId,
      activityId,
      body,
    };
    if (p.route === 'replyToActivity') entry.replyToId = p.activityId;
    state.accepted.push(entry);
    return { status: 201, body: { id: activityId } };
  }

  function deleteActivity(p: ParsedPath): Reply {
    if (!conversations.has(p.conversationId!))
      return errorReply(404, 'ConversationNotFound', 'Conversation not found.');
    if (!live.get(p.conversationId!)?.delete(p.activityId!)) return activityNotFound();
    const entry = {
      seq: state.deleted.length + 1,
      at: Date.now(),
      conversationId: p.conversationId!,
      activityId: p.activityId!,
    };
    state.deleted.push(entry);
    return { status: 200 };
  }

  function activityNotFound(): Reply {
    return errorReply(404, 'ActivityNotFoundInConversation', 'Conversation not found.');
  }

  function rosterOf(conversationId: string): TeamsMember[] | undefined {
    return rosters.get(conversationId) ?? conversations.get(conversationId)?.members;
  }

  const state: Conversations = {
    accepted: [],
    updated: [],
    deleted: [],
    conversations,
    handle(p, body, bytes) {
      switch (p.route) {
        case 'createConversation':
          return createConversation(body);
        case 'sendActivity':
        case 'replyToActivity':
        case 'updateActivity':
          return postActivity(p, body, bytes);
        case 'deleteActivity':
          return deleteActivity(p);
        case 'getMembers':
        case 'getMember':
        case 'getPagedMembers':
          return rosterReply(p, rosterOf(p.conversationId!));
        default:
          return errorReply(404, 'NotFound', 'No such Bot Connector operation.');
      }
    },
    tenantFor(p, body) {
      return p.route === 'createConversation'
        ? String(tenantOf(body) ?? 'unknown')
        : (conversations.get(p.conversationId ?? '')?.tenantId ?? 'unknown');
    },
    setRoster(id, roster) {
      rosters.set(id, roster);
    },
    setKnownMembers(ids) {
      knownMembers = ids ? new Set(ids) : undefined;
    },
    registerConversation(id, init = {}) {
      conversations.set(id, { members: [], ...init, id, createCount: 0 });
    },
    conversationIdFor,
    reset() {
      state.accepted = [];
      state.updated = [];
      state.deleted = [];
      live.clear();
      conversations.clear();
      rosters.clear();
      knownMembers = opts.knownMembers ? new Set(opts.knownMembers) : undefined;
    },
  };
  return state;
}
