/** Rosters as the Teams-like fake connector serves them: all members, one member, or a page at a time. */
import type { ParsedPath } from './routes.js';
import { errorReply, type Reply } from './teamsErrors.js';

/**
 * A roster entry as the Bot Connector REST API answers `GET /v3/conversations/{id}/members`,
 * `/members/{id}` and `/pagedmembers`: the Entra object ID is `objectId` (activities call it
 * `aadObjectId`), and anonymous meeting guests come with `userRole: "anonymous"` and no objectId,
 * email or UPN. Shape from https://learn.microsoft.com/microsoftteams/platform/bots/how-to/get-teams-context
 * ("Fetch the roster or user profile" and "Get single member details", JSON tabs).
 */
export interface TeamsMember {
  id: string;
  name?: string;
  objectId?: string;
  email?: string;
  userPrincipalName?: string;
  tenantId?: string;
  userRole?: 'user' | 'anonymous' | 'guest' | 'bot';
  givenName?: string;
  surname?: string;
}

/** The answer to getMembers, getMember or getPagedMembers over `roster` (undefined: no such conversation). */
export function rosterReply(p: ParsedPath, roster: TeamsMember[] | undefined): Reply {
  if (!roster) return errorReply(404, 'ConversationNotFound', 'Conversation not found.');
  if (p.route === 'getMembers') return { status: 200, body: roster };
  if (p.route === 'getMember') {
    // Teams looks a member up by Teams user ID, UPN or Entra object ID (get-teams-context docs).
    const wanted = p.memberId?.toLowerCase();
    const member = roster.find(
      (m) =>
        m.id === p.memberId || m.objectId === p.memberId || m.userPrincipalName?.toLowerCase() === wanted,
    );
    return member
      ? { status: 200, body: member }
      : errorReply(404, 'MemberNotFoundInConversation', 'The member was not found in the conversation.');
  }
  const pageSize = Math.min(500, Math.max(1, Number(p.query.get('pageSize')) || 200));
  const token = p.query.get('continuationToken');
  const offset = token ? Number(Buffer.from(token, 'base64url').toString('utf8')) : 0;
  if (!Number.isInteger(offset) || offset < 0 || offset > roster.length) {
    return errorReply(400, 'BadArgument', 'Invalid continuation token.');
  }
  const page = roster.slice(offset, offset + pageSize);
  const end = offset + page.length;
  return {
    status: 200,
    body:
      end < roster.length
        ? { members: page, continuationToken: Buffer.from(String(end)).toString('base64url') }
        : { members: page },
  };
}
