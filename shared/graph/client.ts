import {
  AuthenticationHandler,
  AuthenticationHandlerOptions,
  Client,
  GraphError,
  HTTPMessageHandler,
  PageIterator,
  RetryHandler,
  RetryHandlerOptions,
  type GraphRequest,
} from '@microsoft/microsoft-graph-client';
import { DeadlinePassedError, type Deadline } from '../delivery/deadline.js';
import { telemetry } from '../telemetry/telemetry.js';
import type { GraphLimiters } from './limits.js';
import { BudgetMiddleware, GraphCallOption, OffRootError, parseRetryAfter } from './middleware.js';
import type {
  GraphCall,
  GraphCallOptions,
  GraphPort,
  GraphResult,
  GraphUser,
  GroupMembersPage,
} from './port.js';
import { relativeLink, type GraphSetup } from './setup.js';
import type { GraphTokens } from './token.js';

/**
 * The Graph port on the Microsoft Graph JavaScript SDK (@microsoft/microsoft-graph-client): its
 * request builder, its AuthenticationHandler (which adds the token to Microsoft Graph URLs only),
 * its RetryHandler (429, 503 and 504, honouring Retry-After) and PageIterator; our BudgetMiddleware
 * sits between its retries and the HTTP call (middleware.ts). Docs: docs/graph.md.
 */

type Enabled = Extract<GraphSetup, { enabled: true }>;

/** The properties of a user the app reads (docs/graph.md): who they are, and whether to install for them. */
const USER_FIELDS = 'id,userPrincipalName,displayName,accountEnabled,userType';

export interface GraphClientOptions {
  tokens: GraphTokens | undefined;
  limiters: GraphLimiters;
  timeoutMs: number;
  /** The SDK retries in process only a Retry-After up to this long; a longer one goes back to the caller. */
  maxWaitMs: number;
}

export class GraphClient implements GraphPort {
  private readonly client: Client;
  readonly budget: BudgetMiddleware;

  constructor(
    private readonly setup: Enabled,
    private readonly o: GraphClientOptions,
  ) {
    this.budget = new BudgetMiddleware({
      origin: setup.origin,
      limiters: o.limiters,
      timeoutMs: o.timeoutMs,
    });
    const retry = new RetryHandler(this.retryOptions(undefined));
    const auth = new AuthenticationHandler({ getAccessToken: async () => '' });
    auth.setNext(retry);
    retry.setNext(this.budget);
    this.budget.setNext(new HTTPMessageHandler());
    this.client = Client.initWithMiddleware({
      middleware: auth,
      baseUrl: setup.origin,
      defaultVersion: setup.version,
    });
  }

  /**
   * The SDK's retries in process: only a Retry-After up to maxWaitMs (a longer one goes back to the
   * caller), and none whose wait would end past the invocation's deadline.
   */
  private retryOptions(deadline: Deadline | undefined): RetryHandlerOptions {
    return new RetryHandlerOptions(1, 3, (_delay, attempt, _request, _options, response) => {
      const retryAfter = parseRetryAfter((response as Response | undefined)?.headers.get('retry-after'));
      if ((retryAfter ?? 0) > this.o.maxWaitMs) return false;
      // Without Retry-After the SDK backs off exponentially (RetryHandler.getDelay): at most this long.
      const wait = retryAfter ?? 2 ** (attempt + 1) * 1000;
      return !deadline || Date.now() + wait < deadline.at;
    });
  }

  /** A request's middleware options: its call, tenant and deadline, and the deadline's retry rule. */
  private callOptions(call: GraphCall, tenantId: string, o: GraphCallOptions | undefined) {
    const option = new GraphCallOption(call, tenantId, o?.deadline);
    return o?.deadline ? [option, this.retryOptions(o.deadline)] : [option];
  }

  /** A request for `call` in `tenantId`, with that tenant's token (none without an app identity). */
  private request(call: GraphCall, tenantId: string, path: string, o?: GraphCallOptions): GraphRequest {
    const tokens = this.o.tokens;
    const auth = new AuthenticationHandlerOptions({
      getAccessToken: async () => (tokens ? tokens.token(tenantId) : ''),
    });
    return this.client.api(path).middlewareOptions([...this.callOptions(call, tenantId, o), auth]);
  }

  private async run<T>(call: GraphCall, work: () => Promise<T>): Promise<GraphResult<T>> {
    const started = performance.now();
    let status = 200;
    try {
      return { ok: true, value: await work() };
    } catch (err) {
      if (err instanceof OffRootError)
        return { ok: false, call, status: 0, code: 'UntrustedGraphUrl', message: err.message };
      const e = err as GraphError & { cause?: { name?: string } };
      // The SDK hands a middleware's error back as a GraphError named after it (GraphErrorHandler).
      if (err instanceof DeadlinePassedError || e.code === 'DeadlinePassedError')
        return { ok: false, call, status: 0, code: 'DeadlinePassed', message: String(e.message ?? '') };
      status = e instanceof GraphError && e.statusCode > 0 ? e.statusCode : 0;
      const timedOut = /TimeoutError|AbortError/.test(`${e.name} ${e.code ?? ''} ${e.cause?.name ?? ''}`);
      return {
        ok: false,
        call,
        status,
        code: e.code ?? (status ? `Http${status}` : timedOut ? 'Timeout' : 'NetworkError'),
        message: String(e.message ?? ''),
        retryAfterMs: parseRetryAfter((e as { headers?: Headers }).headers?.get?.('retry-after')),
      };
    } finally {
      telemetry().dependency({
        name: `Graph ${call}`,
        target: new URL(this.setup.origin).host,
        resultCode: status,
        success: status < 300,
        durationMs: performance.now() - started,
      });
    }
  }

  getUser(tenantId: string, idOrUpn: string, o?: GraphCallOptions) {
    // A UPN starting with $ must be quoted (user-get.md, "HTTP request" tip); # is encoded.
    const path = idOrUpn.startsWith('$')
      ? `/users('${idOrUpn.replace(/'/g, "''")}')`
      : `/users/${encodeURIComponent(idOrUpn)}`;
    return this.run(
      'getUser',
      async () => (await this.request('getUser', tenantId, path, o).select(USER_FIELDS).get()) as GraphUser,
    );
  }

  findCatalogApp(tenantId: string, externalId: string, o?: GraphCallOptions) {
    return this.run('findCatalogApp', async () => {
      const request = this.request('findCatalogApp', tenantId, '/appCatalogs/teamsApps', o).filter(
        `externalId eq '${odataString(externalId)}'`,
      );
      let found: string | undefined;
      // The SDK's PageIterator walks the pages (appcatalogs-list-teamsapps.md; one in practice).
      const pages = new PageIterator(
        this.client,
        await request.get(),
        (app: { id?: string }) => {
          found = app.id;
          return false;
        },
        { middlewareOptions: this.callOptions('findCatalogApp', tenantId, o) },
      );
      await pages.iterate();
      return found;
    });
  }

  installApp(tenantId: string, userId: string, catalogId: string, o?: GraphCallOptions) {
    return this.run('installApp', async () => {
      const bind = `${this.setup.origin}/${this.setup.version}/appCatalogs/teamsApps/${catalogId}`;
      try {
        await this.request(
          'installApp',
          tenantId,
          `/users/${encodeURIComponent(userId)}/teamwork/installedApps`,
          o,
        ).post({
          'teamsApp@odata.bind': bind,
        });
        return 'installed' as const;
      } catch (err) {
        // Already installed for this user: Graph answers 409 Conflict (errors.md: "The current state
        // conflicts with what the request expects"); Company Communicator reads it the same way.
        if (err instanceof GraphError && err.statusCode === 409) return 'already' as const;
        throw err;
      }
    });
  }

  findInstallation(tenantId: string, userId: string, catalogId: string, o?: GraphCallOptions) {
    return this.run('findInstallation', async () => {
      const page = (await this.request(
        'findInstallation',
        tenantId,
        `/users/${encodeURIComponent(userId)}/teamwork/installedApps`,
        o,
      )
        .expand('teamsApp')
        .filter(`teamsApp/id eq '${odataString(catalogId)}'`)
        .get()) as { value?: Array<{ id?: string }> };
      return page.value?.[0]?.id;
    });
  }

  getChat(tenantId: string, userId: string, installationId: string, o?: GraphCallOptions) {
    return this.run('getChat', async () => {
      const path = `/users/${encodeURIComponent(userId)}/teamwork/installedApps/${encodeURIComponent(installationId).replace(/%3D/g, '=')}/chat`;
      const chat = (await this.request('getChat', tenantId, path, o).get()) as { id?: string };
      if (!chat.id) throw new Error('the chat has no id');
      return chat.id;
    });
  }

  countGroupMembers(tenantId: string, groupId: string) {
    return this.run('countGroupMembers', async () => {
      // The OData cast and $count need ConsistencyLevel: eventual (group-list-transitivemembers.md).
      const text = await this.request(
        'countGroupMembers',
        tenantId,
        `/groups/${encodeURIComponent(groupId)}/transitiveMembers/microsoft.graph.user/$count`,
      )
        .header('ConsistencyLevel', 'eventual')
        .get();
      return Number(text) || 0;
    });
  }

  groupMembers(tenantId: string, groupId: string, next: string | undefined, pageSize: number) {
    return this.run('groupMembers', async (): Promise<GroupMembersPage> => {
      const request = next
        ? this.request('groupMembers', tenantId, `/${next}`)
        : this.request(
            'groupMembers',
            tenantId,
            `/groups/${encodeURIComponent(groupId)}/transitiveMembers/microsoft.graph.user`,
          )
            .query({ $count: 'true' })
            .select(USER_FIELDS)
            // Directory pages hold at most 999 ("Invalid page size specified: '1000'. Must be
            // between 1 and 999 inclusive", Microsoft Q&A 1129204; concepts/paging.md).
            .top(Math.min(pageSize, 999));
      const page = (await request.header('ConsistencyLevel', 'eventual').get()) as {
        value?: GraphUser[];
        '@odata.nextLink'?: string;
      };
      const link = page['@odata.nextLink'];
      const relative = link ? relativeLink(this.setup, link) : undefined;
      if (link && !relative) throw new OffRootError('a next page outside the Graph service root');
      return { users: (page.value ?? []).filter((u) => typeof u?.id === 'string'), next: relative };
    });
  }

  async grantedRoles(tenantId: string) {
    return this.o.tokens ? this.o.tokens.roles(tenantId).catch(() => undefined) : undefined;
  }
}

/** An OData string literal's content: single quotes doubled. */
const odataString = (value: string) => value.replace(/'/g, "''");
