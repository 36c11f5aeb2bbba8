import { BOT_ID, TENANT } from './app.js';

/** Teams activity builders shaped like what Teams (and the Agents Playground) send. */

export interface Account {
  id: string;
  name?: string;
  aadObjectId?: string;
}

let seq = 0;
const nextId = () => `act-${Date.now()}-${++seq}`;

function base(
  serviceUrl: string,
  conversation: { id: string; [key: string]: unknown },
  from: Account,
  tenantId = TENANT,
) {
  return {
    id: nextId(),
    channelId: 'msteams',
    serviceUrl,
    timestamp: new Date().toISOString(),
    from,
    recipient: { id: BOT_ID, name: 'Teams Notifier' },
    conversation: { tenantId, ...conversation },
    channelData: { tenant: { id: tenantId } } as Record<string, unknown>,
  };
}

export function personalInstall(
  serviceUrl: string,
  user: Account,
  conversationId: string,
  tenantId = TENANT,
) {
  return {
    ...base(serviceUrl, { id: conversationId, conversationType: 'personal' }, user, tenantId),
    type: 'installationUpdate',
    action: 'add',
  };
}

export function personalMembersAdded(serviceUrl: string, user: Account, conversationId: string) {
  return {
    ...base(serviceUrl, { id: conversationId, conversationType: 'personal' }, user),
    type: 'conversationUpdate',
    membersAdded: [{ id: BOT_ID }],
  };
}

export function personalMessage(serviceUrl: string, user: Account, conversationId: string, text: string) {
  return {
    ...base(serviceUrl, { id: conversationId, conversationType: 'personal' }, user),
    type: 'message',
    text,
    textFormat: 'plain',
  };
}

export function teamEvent(
  serviceUrl: string,
  teamId: string,
  from: Account,
  fields: {
    eventType?: string;
    membersAdded?: Account[];
    membersRemoved?: Account[];
    type?: string;
    action?: string;
  },
) {
  const activity = base(serviceUrl, { id: teamId, conversationType: 'channel', isGroup: true }, from);
  activity.channelData = {
    tenant: { id: TENANT },
    team: { id: teamId, name: 'Contoso Builds' },
    ...(fields.eventType ? { eventType: fields.eventType } : {}),
  };
  const { eventType: _e, type = 'conversationUpdate', ...rest } = fields;
  return { ...activity, type, ...rest };
}

export function channelMessage(
  serviceUrl: string,
  teamId: string,
  from: Account,
  text: string,
  mentions: Account[],
) {
  const activity = base(
    serviceUrl,
    { id: `${teamId};messageid=1`, conversationType: 'channel', isGroup: true },
    from,
  );
  activity.channelData = { tenant: { id: TENANT }, team: { id: teamId }, channel: { id: teamId } };
  return {
    ...activity,
    type: 'message',
    text,
    entities: mentions.map((m) => ({ type: 'mention', mentioned: m, text: `<at>${m.name}</at>` })),
  };
}
