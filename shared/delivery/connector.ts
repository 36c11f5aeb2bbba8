import { isTrustedServiceUrl, UntrustedServiceUrlError } from './serviceUrl.js';
import { telemetry } from '../telemetry/telemetry.js';

/**
 * The Bot Connector port used by delivery, and its HTTP adapter. Only the two calls delivery needs;
 * every answer comes back as data (status, Teams error code, Retry-After) so the caller decides.
 */

export type ConnectorResult<T> =
  | { ok: true; status: number; body: T }
  | {
      ok: false;
      /** 0 when no HTTP answer came (timeout, connection refused). */
      status: number;
      code: string;
      message: string;
      retryAfterMs?: number | undefined;
    };

interface CreateConversationParams {
  botId: string;
  userId: string;
  tenantId: string;
}

/** Per call: a timeout shorter than the connector's own, so the call ends before the invocation must. */
export interface CallOptions {
  timeoutMs?: number | undefined;
}

export interface BotConnector {
  createConversation(
    serviceUrl: string,
    params: CreateConversationParams,
    o?: CallOptions,
  ): Promise<ConnectorResult<{ id: string }>>;
  sendToConversation(
    serviceUrl: string,
    conversationId: string,
    activity: Record<string, unknown>,
    o?: CallOptions,
  ): Promise<ConnectorResult<{ id?: string }>>;
  /**
   * Gets ready what a call needs (the bot's token, refreshed about hourly), so a check made after it
   * comes right before the request leaves: send.ts checks for a recall there.
   */
  prepare?(): Promise<void>;
  /** PUT /v3/conversations/{conversationId}/activities/{activityId}: replace a sent message. */
  updateActivity?(
    serviceUrl: string,
    conversationId: string,
    activityId: string,
    activity: Record<string, unknown>,
    o?: CallOptions,
  ): Promise<ConnectorResult<{ id?: string }>>;
  /**
   * GET /v3/conversations/{conversationId}/members: who is in a chat (a 1:1's user, with their Teams
   * user ID), for a chat Microsoft Graph named (shared/graph/reach.ts).
   */
  getConversationMembers?(
    serviceUrl: string,
    conversationId: string,
    o?: CallOptions,
  ): Promise<ConnectorResult<Array<Record<string, unknown>>>>;
  /** DELETE /v3/conversations/{conversationId}/activities/{activityId}: delete a sent message. */
  deleteActivity?(
    serviceUrl: string,
    conversationId: string,
    activityId: string,
    o?: CallOptions,
  ): Promise<ConnectorResult<unknown>>;
}

/** The failure code of a call refused because its service URL is not a Bot Framework host. */
export const UNTRUSTED_SERVICE_URL = 'UntrustedServiceUrl';

/** Supplies the bot's bearer token, or undefined when the bot runs without an app ID (local only). */
export type TokenSource = () => Promise<string | undefined>;

interface HttpConnectorOptions {
  token: TokenSource;
  /** Hosts besides Microsoft's that may be called at all when a token is in use. */
  extraHosts: readonly string[];
  timeoutMs: number;
  fetch?: typeof fetch;
}

/** Retry-After as milliseconds: seconds (fractions too) or an HTTP date. */
export function parseRetryAfter(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export class HttpBotConnector implements BotConnector {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: HttpConnectorOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  createConversation(serviceUrl: string, params: CreateConversationParams, o?: CallOptions) {
    const body = {
      bot: { id: params.botId },
      members: [{ id: params.userId }],
      isGroup: false,
      tenantId: params.tenantId,
      channelData: { tenant: { id: params.tenantId } },
    };
    return this.call<{ id: string }>(serviceUrl, 'v3/conversations', 'CreateConversation', body, 'POST', o);
  }

  async prepare(): Promise<void> {
    await this.options.token();
  }

  sendToConversation(
    serviceUrl: string,
    conversationId: string,
    activity: Record<string, unknown>,
    o?: CallOptions,
  ) {
    const path = `v3/conversations/${encodeURIComponent(conversationId)}/activities`;
    return this.call<{ id?: string }>(serviceUrl, path, 'SendToConversation', activity, 'POST', o);
  }

  // Update and delete, as Microsoft documents them for bots (and botbuilder's ConnectorClient sends them):
  // https://learn.microsoft.com/microsoftteams/platform/bots/how-to/update-and-delete-bot-messages
  updateActivity(
    serviceUrl: string,
    conversationId: string,
    activityId: string,
    activity: Record<string, unknown>,
    o?: CallOptions,
  ) {
    const path = activityPath(conversationId, activityId);
    const body = { ...activity, id: activityId };
    return this.call<{ id?: string }>(serviceUrl, path, 'UpdateActivity', body, 'PUT', o);
  }

  // As botbuilder's ConnectorClient lists a conversation's members (Conversations.getConversationMembers).
  getConversationMembers(serviceUrl: string, conversationId: string, o?: CallOptions) {
    const path = `v3/conversations/${encodeURIComponent(conversationId)}/members`;
    return this.call<Array<Record<string, unknown>>>(
      serviceUrl,
      path,
      'GetConversationMembers',
      undefined,
      'GET',
      o,
    );
  }

  deleteActivity(serviceUrl: string, conversationId: string, activityId: string, o?: CallOptions) {
    const path = activityPath(conversationId, activityId);
    return this.call<unknown>(serviceUrl, path, 'DeleteActivity', undefined, 'DELETE', o);
  }

  private async call<T>(
    serviceUrl: string,
    path: string,
    name: string,
    body: unknown,
    method: 'POST' | 'PUT' | 'DELETE' | 'GET' = 'POST',
    o: CallOptions = {},
  ): Promise<ConnectorResult<T>> {
    const timeoutMs = Math.min(this.options.timeoutMs, o.timeoutMs ?? Infinity);
    const token = await this.options.token();
    // With a token the target must be a Bot Framework host; without one (local emulator) nothing secret leaves.
    if (token && !isTrustedServiceUrl(serviceUrl, this.options.extraHosts)) {
      // An answer, not a throw: delivery records it as a permanent failure instead of retrying it.
      return {
        ok: false,
        status: 0,
        code: UNTRUSTED_SERVICE_URL,
        message: new UntrustedServiceUrlError(serviceUrl).message,
      };
    }
    const url = new URL(path, serviceUrl.endsWith('/') ? serviceUrl : `${serviceUrl}/`);
    const started = performance.now();
    let status = 0;
    try {
      const response = await this.fetch(url, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      const text = await response.text();
      const json = safeJson(text);
      if (response.ok) return { ok: true, status, body: (json ?? {}) as T };
      const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      return {
        ok: false,
        status,
        code: error?.code ?? `Http${status}`,
        message: (error?.message ?? text).slice(0, 300),
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      };
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
      return {
        ok: false,
        status: 0,
        code: timedOut ? 'Timeout' : 'NetworkError',
        message: timedOut ? `no answer within ${timeoutMs} ms` : String((err as Error).message),
      };
    } finally {
      telemetry().dependency({
        name,
        target: url.host,
        resultCode: status,
        success: status >= 200 && status < 300,
        durationMs: performance.now() - started,
      });
    }
  }
}

const activityPath = (conversationId: string, activityId: string) =>
  `v3/conversations/${encodeURIComponent(conversationId)}/activities/${encodeURIComponent(activityId)}`;

function safeJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
