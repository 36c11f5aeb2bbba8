import type { CatalogApp, DirectoryGroup, DirectoryUser } from '../../scripts/sandbox/fakeGraph/directory.js';
import {
  startFakeGraph,
  type FakeGraph,
  type FakeGraphOptions,
} from '../../scripts/sandbox/fakeGraph/server.js';
import { personalInstall, personalMembersAdded } from './activities.js';
import { BOT_ID, TENANT, type TestApp } from './app.js';
import type { FakeConnector } from './fakeConnector.js';

/**
 * The fake Microsoft Graph (scripts/sandbox/fakeGraph/) wired to a test's Teams: an install makes
 * the user's 1:1 chat in the fake connector (as Teams makes it on install) and, when asked, sends
 * the app the installation activities Teams sends a bot (installationUpdate + conversationUpdate).
 */

/** The catalog entry of appcatalogs-list-teamsapps.md's example, as the app's entry in the test tenant. */
export const CATALOG_APP: CatalogApp = {
  id: 'b1c5353a-7aca-41b3-830f-27d5218fe0e5',
  externalId: 'f31b1263-ba99-435a-a679-911d24850d7c',
  displayName: 'Teams Notifier',
  distributionMethod: 'organization',
};

/** Settings that point the app at the fake Graph (no token: loopback and no app ID). */
export const graphEnv = (graph: FakeGraph, o: { lookUpCatalog?: boolean } = {}) => ({
  GRAPH_BASE_URL: graph.url,
  TEAMS_APP_ID: CATALOG_APP.externalId,
  ...(o.lookUpCatalog ? {} : { TEAMS_APP_CATALOG_ID: CATALOG_APP.id }),
});

/** The Teams user ID the fake Teams gives a directory user in a 1:1 chat with the bot. */
export const teamsIdOf = (user: Pick<DirectoryUser, 'id'>) => `29:graph-${user.id}`;

let n = 0;
/** A directory user with a fresh object ID and UPN. */
export function person(overrides: Partial<DirectoryUser> = {}): DirectoryUser {
  n += 1;
  const hex = (n + Math.floor(Math.random() * 1e6)).toString(16).padStart(12, '0').slice(-12);
  return {
    id: `5b649834-7412-4cce-9e69-${hex}`,
    userPrincipalName: `person${n}.${hex}@contoso.com`,
    displayName: `Person ${n}`,
    ...overrides,
  };
}

export interface TestGraph extends FakeGraph {
  /** Connects installs to the app's Teams (its fake connector) and, with `announce`, its /api/messages. */
  attach(app: Pick<TestApp, 'connector' | 'post'>): void;
  /** Installation activities sent to the app so far. */
  announced: Array<Record<string, unknown>>;
}

export async function startTestGraph(
  o: {
    users: DirectoryUser[];
    groups?: DirectoryGroup[];
    installed?: Record<string, string[]>;
    catalog?: CatalogApp[];
    announce?: boolean;
  } & Omit<FakeGraphOptions, 'directory' | 'createChat' | 'announce'>,
): Promise<TestGraph> {
  let app: Pick<TestApp, 'connector' | 'post'> | undefined;
  const announced: Array<Record<string, unknown>> = [];
  const member = (user: DirectoryUser) => ({
    id: teamsIdOf(user),
    name: user.displayName,
    objectId: user.id,
    userPrincipalName: user.userPrincipalName,
    tenantId: TENANT,
    userRole: 'user' as const,
  });
  const connector = (): FakeConnector => {
    if (!app) throw new Error('the fake Graph is not attached to an app');
    return app.connector;
  };
  const { announce, users, groups, installed, catalog, ...rest } = o;
  const graph = await startFakeGraph({
    ...rest,
    directory: { users, groups: groups ?? [], catalog: catalog ?? [CATALOG_APP], installed: installed ?? {} },
    createChat: async (user) => {
      // Graph names the chat 19:...@unq.gbl.spaces (userscopeteamsappinstallation-get-chat.md);
      // the Bot Connector knows it by that ID too, and by the a:... ID of the bot's own activities.
      const chatId = `19:${user.id}_${CATALOG_APP.id}@unq.gbl.spaces`;
      connector().registerConversation(chatId, { tenantId: TENANT, members: [member(user)] });
      return chatId;
    },
    ...(announce
      ? {
          announce: async (user: DirectoryUser) => {
            const c = connector();
            const chatId = c.conversationIdFor(TENANT, teamsIdOf(user), BOT_ID);
            c.registerConversation(chatId, { tenantId: TENANT, members: [member(user)] });
            const from = { id: teamsIdOf(user), aadObjectId: user.id };
            for (const activity of [
              personalInstall(c.url, from, chatId),
              personalMembersAdded(c.url, from, chatId),
            ]) {
              announced.push(activity);
              await app!.post('messages', activity);
            }
          },
        }
      : {}),
  });
  return Object.assign(graph, {
    announced,
    attach(next: Pick<TestApp, 'connector' | 'post'>) {
      app = next;
      // Apps installed before the test have their chat in Teams already.
      for (const [userId, apps] of Object.entries(o.installed ?? {})) {
        const user = o.users.find((u) => u.id === userId);
        for (const appId of apps)
          if (user)
            next.connector.registerConversation(`19:${user.id}_${appId}@unq.gbl.spaces`, {
              tenantId: TENANT,
              members: [member(user)],
            });
      }
    },
  });
}
