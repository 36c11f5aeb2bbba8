/**
 * The sandbox's Microsoft Graph: the fake Graph (fakeGraph/) with the Playground's tenant as its
 * directory, so `npm start` can reach people the bot never met. Installing the app for someone
 * does what Teams does on a proactive install: it opens the bot's 1:1 chat with them (the
 * Playground's Bot Connector creates it) and sends the bot the installation activities
 * (installationUpdate and conversationUpdate, through the Playground, so its Log Panel shows them).
 */
import type { CatalogApp, DirectoryUser } from './fakeGraph/directory.js';
import { startFakeGraph, type FakeGraph } from './fakeGraph/server.js';
import { PLAYGROUND_DEFAULTS, type Playground, type PlaygroundUser } from './playground.js';

/** The sandbox app's entry in the organization's app catalog: its manifest ID is TEAMS_APP_ID. */
export const SANDBOX_CATALOG_APP: CatalogApp = {
  id: '22f73bbe-f67a-4dea-bd54-54cac718cb2b',
  externalId: 'cf1ba4c7-f94e-4d80-ba90-5594b641a8ee',
  displayName: 'Teams Notifier',
  distributionMethod: 'organization',
};

/** The person of the quick start who never opened the Playground: Adele Vance. */
export const NEVER_MET = PLAYGROUND_DEFAULTS.users[1];

const toDirectoryUser = (u: PlaygroundUser): DirectoryUser => ({
  id: u.aadObjectId,
  userPrincipalName: u.userPrincipleName,
  displayName: u.name,
  givenName: u.givenName,
  surname: u.surname,
  mail: u.email,
});

/**
 * Starts the fake Graph for the sandbox. `playground` is read when someone is installed for, so
 * the Playground may start at the same time.
 */
export async function startSandboxGraph(
  playground: () => Playground | undefined,
  log: (line: string) => void,
): Promise<FakeGraph> {
  const tenant = PLAYGROUND_DEFAULTS;
  const people = [tenant.currentUser, ...tenant.users];
  const teamsId = new Map(people.map((u) => [u.aadObjectId.toLowerCase(), u.id]));
  const connector = () => {
    const p = playground();
    if (!p) throw new Error('the Playground is not running');
    return p;
  };
  return startFakeGraph({
    directory: {
      users: people.map(toDirectoryUser),
      // The Playground's team as an Entra group (its aadGroupId), for `npm run notify -- --group`.
      groups: [
        {
          id: tenant.team.aadGroupId,
          displayName: tenant.team.name,
          members: people.map((u) => u.aadObjectId),
        },
      ],
      catalog: [SANDBOX_CATALOG_APP],
    },
    createChat: async (user) => {
      const p = connector();
      const res = await fetch(`${p.connectorUrl}/v3/conversations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          bot: tenant.bot,
          members: [{ id: teamsId.get(user.id.toLowerCase()) ?? user.id }],
          isGroup: false,
          tenantId: tenant.tenantId,
          channelData: { tenant: { id: tenant.tenantId } },
        }),
      });
      const chat = ((await res.json()) as { id: string }).id;
      log(
        `installed Teams Notifier for ${user.userPrincipalName} (Microsoft Graph, proactive install); chat ${chat}`,
      );
      return chat;
    },
    announce: async (user, _app, chatId) => {
      const p = connector();
      const from = {
        id: teamsId.get(user.id.toLowerCase()) ?? user.id,
        aadObjectId: user.id,
        name: user.displayName,
      };
      // As the Playground's own personal install sends them (docs/agents-playground-notes.md).
      const base = {
        channelId: 'msteams',
        serviceUrl: p.connectorUrl,
        from,
        recipient: tenant.bot,
        conversation: { conversationType: 'personal', tenantId: tenant.tenantId, id: chatId },
        channelData: { tenant: { id: tenant.tenantId } },
        timestamp: new Date().toISOString(),
      };
      await p.sendCustomActivity({
        ...base,
        id: crypto.randomUUID(),
        type: 'installationUpdate',
        action: 'add',
      });
      await p.sendCustomActivity({
        ...base,
        id: crypto.randomUUID(),
        type: 'conversationUpdate',
        membersAdded: [from, { id: tenant.bot.id }],
      });
    },
  });
}
