/**
 * A fake Microsoft Graph for the sandbox (`npm start`), the tests and the benchmark: the calls that
 * install a bot for a user and read an Entra group, answered as microsoft-graph-docs-contrib's
 * api-reference/v1.0 pages show them (user-get.md, appcatalogs-list-teamsapps.md,
 * userteamwork-post-installedapps.md, userteamwork-list-installedapps.md,
 * userscopeteamsappinstallation-get-chat.md, group-list-transitivemembers.md), errors as
 * concepts/errors.md, throttling as concepts/throttling.md and throttling-limits.md (throttle.ts),
 * permissions from each page's "Permissions" table. Plain Node (no vitest), so `npm start` runs it.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  Directory,
  installKey,
  type CatalogApp,
  type DirectoryData,
  type DirectoryUser,
} from './directory.js';
import {
  chatReply,
  collection,
  conflictReply,
  forbiddenReply,
  installationId,
  notFoundReply,
  throttledReply,
  unauthorizedReply,
  unavailableReply,
  unsupportedQueryReply,
  errorReply,
  type Reply,
} from './responses.js';
import { documentedLimits, Throttle, type Limit, type Window } from './throttle.js';
import { ALL_ROLES, filterClauses, PERMISSIONS, routeOf, select, type GraphRoute } from './routes.js';

export type { GraphRoute } from './routes.js';

export interface GraphRequestRecord {
  method: string;
  path: string;
  query: URLSearchParams;
  route: GraphRoute;
  authorization: string | undefined;
  status: number;
  at: number;
}

/** A scripted answer for matching requests (the first `times`, default every one). */
export interface GraphFault {
  route: GraphRoute | ((r: GraphRequestRecord) => boolean);
  reply: 'throttle' | 'unavailable' | Reply;
  retryAfterSeconds?: number;
  times?: number;
}

export interface FakeGraphOptions {
  directory: DirectoryData;
  /** What the app is told Graph's origin is (nextLinks and contexts use it). Default this server's http URL. */
  publicOrigin?: string;
  /** Serve https with this certificate (a test routes graph.microsoft.com here). */
  tls?: { key: string; cert: string };
  /** Check each request's bearer token: its app roles, or undefined when it is not valid (401). */
  verifyToken?: (token: string) => Promise<readonly string[] | undefined>;
  /** The app's application permissions when tokens are not checked; default every one the calls need. */
  roles?: readonly string[];
  /** Microsoft's documented limits (throttle.ts); false: none. Default false. */
  limits?: Record<Limit, Window> | 'documented' | false;
  /** Teams makes the user's 1:1 chat with the bot on install; its ID. */
  createChat?: (user: DirectoryUser, app: CatalogApp) => Promise<string>;
  /** Teams then sends the bot its installation activity; called after the install is answered. */
  announce?: (user: DirectoryUser, app: CatalogApp, chatId: string) => Promise<void>;
  /** Default page size of transitiveMembers (Graph's default for directory collections: 100). */
  defaultPageSize?: number;
}

export interface FakeGraph {
  /** The service root to give the app as GRAPH_BASE_URL. */
  url: string;
  origin: string;
  port: number;
  directory: Directory;
  requests: GraphRequestRecord[];
  throttle: Throttle | undefined;
  fault(f: GraphFault): void;
  /** Sets the app's permissions (when tokens are not checked). */
  setRoles(roles: readonly string[]): void;
  stop(): Promise<void>;
}

export async function startFakeGraph(o: FakeGraphOptions): Promise<FakeGraph> {
  const directory = new Directory(o.directory);
  const requests: GraphRequestRecord[] = [];
  const faults: Array<GraphFault & { left: number }> = [];
  let roles: readonly string[] = o.roles ?? ALL_ROLES;
  const limits = o.limits === 'documented' ? documentedLimits(directory.users.size) : o.limits || undefined;
  const throttle = limits ? new Throttle(limits) : undefined;
  let origin = '';

  function scripted(record: GraphRequestRecord): Reply | undefined {
    const f = faults.find(
      (x) => x.left > 0 && (typeof x.route === 'function' ? x.route(record) : x.route === record.route),
    );
    if (!f) return undefined;
    f.left--;
    if (f.reply === 'throttle') return throttledReply(f.retryAfterSeconds ?? 1);
    if (f.reply === 'unavailable') return unavailableReply(f.retryAfterSeconds ?? 1);
    return f.reply;
  }

  function limitOf(route: GraphRoute, query: URLSearchParams): { limit: Limit; cost: number } | undefined {
    if (route === 'installApp') return { limit: 'teamsInstalledAppsWrite', cost: 1 };
    if (route === 'listCatalog' || route === 'listInstalledApps' || route === 'getChat')
      return { limit: 'teamsInstalledAppsRead', cost: 1 };
    if (route === 'getUser' || route === 'countMembers') return { limit: 'identity', cost: 1 };
    if (route === 'listMembers') return { limit: 'identity', cost: query.has('$select') ? 4 : 5 };
    return undefined;
  }

  async function answer(
    record: GraphRequestRecord,
    params: string[],
    body: unknown,
    req: IncomingMessage,
  ): Promise<Reply> {
    const { route, query } = record;
    if (route === 'unknown')
      return errorReply(400, 'invalidRequest', `no such request: ${record.method} ${record.path}`);
    let granted = roles;
    if (o.verifyToken) {
      const token = /^Bearer (.+)$/.exec(record.authorization ?? '')?.[1];
      const verified = token ? await o.verifyToken(token) : undefined;
      if (!verified) return unauthorizedReply();
      granted = verified;
    }
    const limit = limitOf(route, query);
    const wait = limit && throttle?.admit(limit.limit, limit.cost);
    if (wait) return throttledReply(Number(wait.toFixed(3)));
    const faulted = scripted(record);
    if (faulted) return faulted;
    if (!PERMISSIONS[route].some((r) => granted.includes(r)))
      return forbiddenReply(`Missing application permission: one of ${PERMISSIONS[route].join(', ')}`);
    const eventual = String(req.headers['consistencylevel'] ?? '').toLowerCase() === 'eventual';
    switch (route) {
      case 'getUser': {
        const user = directory.findUser(params[0]!);
        if (!user) return notFoundReply(`user ${params[0]}`);
        return { status: 200, body: select(user, query.get('$select')?.split(','), false) };
      }
      case 'listCatalog': {
        const f = filterClauses(query.get('$filter'));
        const apps = directory.catalog.filter((a) =>
          [...f].every(([k, v]) => (a as unknown as Record<string, string>)[k] === v),
        );
        return collection(apps, { '@odata.context': `${origin}/v1.0/$metadata#appCatalogs/teamsApps` });
      }
      case 'installApp':
        return install(params[0]!, body);
      case 'listInstalledApps': {
        const user = directory.findUser(params[0]!);
        if (!user) return notFoundReply(`user ${params[0]}`);
        const f = filterClauses(query.get('$filter'));
        const apps = directory.catalog.filter(
          (a) =>
            directory.isInstalled(user.id, a.id) &&
            (!f.has('teamsApp/id') || f.get('teamsApp/id') === a.id) &&
            (!f.has('teamsApp/externalId') || f.get('teamsApp/externalId') === a.externalId),
        );
        const expand = (query.get('$expand') ?? '').split(',').includes('teamsApp');
        return collection(
          apps.map((a) => ({ id: installationId(user.id, a.id), ...(expand ? { teamsApp: a } : {}) })),
        );
      }
      case 'getChat': {
        const [userId, appId] = Buffer.from(params[1]!, 'base64').toString('utf8').split('##');
        const chat =
          userId && userId === params[0] && appId
            ? directory.installs.get(installKey(userId, appId))
            : undefined;
        if (chat === undefined) return notFoundReply(`installation ${params[1]}`);
        return chatReply(origin, chat || `19:${userId}_${appId}@unq.gbl.spaces`);
      }
      case 'countMembers':
      case 'listMembers': {
        if (!eventual) return unsupportedQueryReply();
        if (!directory.groups.has(params[0]!.toLowerCase())) return notFoundReply(`group ${params[0]}`);
        const users = directory.transitiveUsers(params[0]!);
        if (route === 'countMembers') return { status: 200, text: String(users.length) };
        return listMembers(params[0]!, users, query, !granted.some((r) => PERMISSIONS.getUser.includes(r)));
      }
    }
  }

  async function install(userKey: string, body: unknown): Promise<Reply> {
    const user = directory.findUser(userKey);
    if (!user) return notFoundReply(`user ${userKey}`);
    const bind = String((body as Record<string, unknown> | undefined)?.['teamsApp@odata.bind'] ?? '');
    const app = directory.catalog.find((a) => bind.endsWith(`/appCatalogs/teamsApps/${a.id}`));
    if (!app) return notFoundReply(`teamsApp ${bind.split('/').pop()}`);
    if (user.teams === 'unlicensed' || user.teams === 'blocked')
      return forbiddenReply('The user may not have the app installed (licence or app permission policy).');
    if (directory.isInstalled(user.id, app.id)) return conflictReply();
    const chatId = o.createChat ? await o.createChat(user, app) : '';
    directory.installs.set(installKey(user.id, app.id), chatId);
    const announced = chatId || `19:${user.id}_${app.id}@unq.gbl.spaces`;
    // Teams tells the bot after the install, on its own time.
    if (o.announce) setImmediate(() => void o.announce!(user, app, announced).catch(() => undefined));
    return { status: 201 };
  }

  function listMembers(
    groupId: string,
    users: DirectoryUser[],
    query: URLSearchParams,
    limited: boolean,
  ): Reply {
    const top = Number(query.get('$top') ?? o.defaultPageSize ?? 100);
    // Default 100 (concepts/paging.md); at most 999, as Graph answers a larger one (Microsoft Q&A 1129204).
    if (!Number.isInteger(top) || top < 1 || top > 999)
      return errorReply(
        400,
        'invalidRequest',
        `Invalid page size specified: '${query.get('$top')}'. Must be between 1 and 999 inclusive.`,
      );
    const offset = Number(Buffer.from(query.get('$skiptoken') ?? '', 'base64url').toString('utf8') || 0);
    const page = users.slice(offset, offset + top);
    const next = new URLSearchParams(query);
    next.set('$skiptoken', Buffer.from(String(offset + top)).toString('base64url'));
    return collection(
      page.map((u) => select(u, query.get('$select')?.split(','), limited)),
      {
        '@odata.context': `${origin}/v1.0/$metadata#users`,
        ...(query.get('$count') === 'true' ? { '@odata.count': users.length } : {}),
        ...(offset + top < users.length
          ? {
              '@odata.nextLink': `${origin}/v1.0/groups/${groupId}/transitiveMembers/microsoft.graph.user?${next.toString()}`,
            }
          : {}),
      },
    );
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const path = url.pathname.replace(/^\/v1\.0/, '');
      const { route, params } = routeOf(req.method ?? 'GET', path);
      const record: GraphRequestRecord = {
        method: req.method ?? 'GET',
        path,
        query: url.searchParams,
        route,
        authorization: req.headers.authorization,
        status: 0,
        at: Date.now(),
      };
      requests.push(record);
      let body: unknown;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      } catch {
        body = undefined;
      }
      answer(record, params, body, req)
        .catch((err: unknown) => errorReply(500, 'generalException', String(err)))
        .then((reply) => {
          record.status = reply.status;
          const json = reply.text === undefined && reply.body !== undefined;
          res.writeHead(reply.status, {
            ...(json
              ? { 'content-type': 'application/json' }
              : reply.text !== undefined
                ? { 'content-type': 'text/plain' }
                : {}),
            ...reply.headers,
          });
          res.end(reply.text ?? (json ? JSON.stringify(reply.body) : undefined));
        });
    });
  };
  const server = o.tls
    ? createHttpsServer({ key: o.tls.key, cert: o.tls.cert }, handler)
    : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  origin = o.publicOrigin ?? `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/v1.0`,
    origin,
    port,
    directory,
    requests,
    throttle,
    fault: (f) => faults.push({ ...f, left: f.times ?? Number.POSITIVE_INFINITY }),
    setRoles: (next) => (roles = next),
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
