/**
 * What a request to the Teams-like fake connector names: the Bot Connector v3 operation, its
 * conversation, activity or member, and the tenant in its body.
 */
import type { IncomingHttpHeaders } from 'node:http';

export type Route =
  | 'createConversation'
  | 'sendActivity'
  | 'replyToActivity'
  | 'updateActivity'
  | 'deleteActivity'
  | 'getMembers'
  | 'getMember'
  | 'getPagedMembers'
  | 'unknown';

/** What matchers see of a request. */
export interface ConnectorRequest {
  method: string;
  /** Path relative to the serviceUrl, e.g. /v3/conversations/a:1xyz/activities (decoded). */
  path: string;
  route: Route;
  conversationId?: string;
  body: unknown;
  headers: IncomingHttpHeaders;
}

export interface ParsedPath {
  route: Route;
  path: string;
  conversationId?: string;
  activityId?: string;
  memberId?: string;
  query: URLSearchParams;
}

/** The path part of a serviceUrl with one slash either side, e.g. '/amer/' ('/' by default). */
export function normalBasePath(basePath = '/'): string {
  return `/${basePath.replace(/^\/+|\/+$/g, '')}/`.replace('//', '/');
}

/** The operation a request names; undefined when it is outside the base path or not decodable. */
export function parsePath(basePath: string, rawUrl: string, method: string): ParsedPath | undefined {
  const q = rawUrl.indexOf('?');
  let path = (q < 0 ? rawUrl : rawUrl.slice(0, q)).replace(/\/{2,}/g, '/');
  if (!path.startsWith(basePath)) return undefined;
  path = path.slice(basePath.length - 1);
  const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
  let seg: string[];
  try {
    seg = path.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
  const decoded = '/' + seg.join('/');
  const parsed: ParsedPath = { route: 'unknown', path: decoded, query };
  if (seg[0] !== 'v3' || seg[1] !== 'conversations') return parsed;
  if (seg.length === 2) {
    if (method === 'POST') parsed.route = 'createConversation';
    return parsed;
  }
  parsed.conversationId = seg[2];
  const [, , , kind, sub, extra] = seg;
  if (extra !== undefined) return parsed;
  if (kind === 'activities' && sub === undefined && method === 'POST') parsed.route = 'sendActivity';
  else if (kind === 'activities' && sub !== undefined) {
    parsed.activityId = sub;
    if (method === 'POST') parsed.route = 'replyToActivity';
    else if (method === 'PUT') parsed.route = 'updateActivity';
    else if (method === 'DELETE') parsed.route = 'deleteActivity';
  } else if (kind === 'members' && method === 'GET') {
    parsed.route = sub === undefined ? 'getMembers' : 'getMember';
    parsed.memberId = sub;
  } else if (kind === 'pagedmembers' && sub === undefined && method === 'GET')
    parsed.route = 'getPagedMembers';
  return parsed;
}

/** Message posts into a conversation (send, reply, update, delete): what Teams limits per conversation. */
export function isMessagePost(route: Route): boolean {
  return (
    route === 'sendActivity' ||
    route === 'replyToActivity' ||
    route === 'updateActivity' ||
    route === 'deleteActivity'
  );
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The tenant a request body names: channelData.tenant.id, else tenantId. */
export function tenantOf(body: unknown): unknown {
  if (!isRecord(body)) return undefined;
  const channelData = isRecord(body.channelData) ? body.channelData : {};
  const tenant = isRecord(channelData.tenant) ? channelData.tenant : {};
  return tenant.id ?? body.tenantId;
}
