/**
 * The Playground's mock tenant: its config (GET /_internal/v1/config), the config file that replaces
 * it, and its built-in people, team and chats.
 */

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
