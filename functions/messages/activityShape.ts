import { TEAMS_ID, TENANT_ID } from '../../shared/jobs/recipient.js';

/**
 * The fields of an inbound activity the bot reads, checked before anything else touches it, so a
 * malformed activity gets a 400 with the reason instead of failing half-way (a 500 that Teams would
 * retry, or a partly written record). IDs end up in Table Storage keys: user, team and object IDs
 * are held to the job contract's rule for Teams IDs (printable ASCII, 1 to 256 characters), the
 * tenant ID to its rule for tenant IDs, so what the bot stores is what a job can name.
 */

const CONVERSATION_ID = /^[\x21-\x7e]{1,1000}$/;

type Obj = Record<string, unknown>;
const isObject = (value: unknown): value is Obj =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function badId(value: unknown, optional = false, rule = TEAMS_ID): string | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string' || value === '') return 'must be a non-empty string';
  if (!rule.test(value)) {
    return rule === TENANT_ID
      ? 'must be letters, digits, . and -, at most 64 characters'
      : 'must be printable ASCII, 1 to 256 characters';
  }
  return undefined;
}

function badOptionalString(value: unknown): string | undefined {
  return value === undefined || value === null || typeof value === 'string' ? undefined : 'must be a string';
}

/** The first problem with `activity` (an object with a string `type`), or undefined when the bot can handle it. */
export function activityProblem(activity: Obj): string | undefined {
  const serviceUrl = activity.serviceUrl;
  let url: URL | undefined;
  try {
    url = typeof serviceUrl === 'string' ? new URL(serviceUrl) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    return 'activity.serviceUrl must be an http(s) URL';
  }
  const problems: Array<[string, string | undefined]> = [];
  const account = (name: string, value: unknown, optional: boolean) => {
    if (value === undefined && optional) return;
    if (!isObject(value)) return problems.push([name, 'must be an object']);
    problems.push([`${name}.id`, badId(value.id)]);
    problems.push([`${name}.aadObjectId`, badId(value.aadObjectId ?? undefined, true)]);
    problems.push([`${name}.name`, badOptionalString(value.name)]);
    problems.push([`${name}.role`, badOptionalString(value.role)]);
  };
  problems.push(['activity.id', badId(activity.id, true)]);
  // Copied into every reply, which botbuilder type-checks when it serialises it.
  const channelId = activity.channelId;
  problems.push([
    'activity.channelId',
    typeof channelId === 'string' && channelId !== '' ? undefined : 'must be a non-empty string',
  ]);
  problems.push(['activity.locale', badOptionalString(activity.locale)]);
  account('activity.from', activity.from, false);
  account('activity.recipient', activity.recipient, true);
  const conversation = activity.conversation;
  if (!isObject(conversation)) {
    problems.push(['activity.conversation', 'must be an object']);
  } else {
    // Sent back in HTTP headers and URLs; Teams' conversation IDs are printable ASCII.
    const id = conversation.id;
    problems.push([
      'activity.conversation.id',
      typeof id === 'string' && CONVERSATION_ID.test(id)
        ? undefined
        : 'must be printable ASCII, 1 to 1000 characters',
    ]);
    problems.push([
      'activity.conversation.tenantId',
      badId(conversation.tenantId ?? undefined, true, TENANT_ID),
    ]);
    problems.push([
      'activity.conversation.conversationType',
      badOptionalString(conversation.conversationType),
    ]);
    problems.push(['activity.conversation.name', badOptionalString(conversation.name)]);
    const isGroup = conversation.isGroup;
    if (isGroup !== undefined && isGroup !== null && typeof isGroup !== 'boolean') {
      problems.push(['activity.conversation.isGroup', 'must be a boolean']);
    }
  }
  const channelData = activity.channelData;
  if (channelData !== undefined && channelData !== null) {
    if (!isObject(channelData)) {
      problems.push(['activity.channelData', 'must be an object']);
    } else {
      problems.push(['activity.channelData.eventType', badOptionalString(channelData.eventType)]);
      for (const part of ['tenant', 'team'] as const) {
        const value = channelData[part];
        if (value === undefined || value === null) continue;
        if (!isObject(value)) problems.push([`activity.channelData.${part}`, 'must be an object']);
        else
          problems.push([
            `activity.channelData.${part}.id`,
            part === 'tenant' ? badId(value.id, true, TENANT_ID) : badId(value.id),
          ]);
        if (isObject(value))
          problems.push([`activity.channelData.${part}.name`, badOptionalString(value.name)]);
      }
    }
  }
  for (const list of ['membersAdded', 'membersRemoved'] as const) {
    const members = activity[list];
    if (members === undefined || members === null) continue;
    if (!Array.isArray(members)) problems.push([`activity.${list}`, 'must be an array']);
    else members.forEach((m, i) => account(`activity.${list}[${i}]`, m, false));
  }
  const entities = activity.entities;
  if (entities !== undefined && entities !== null) {
    if (!Array.isArray(entities)) problems.push(['activity.entities', 'must be an array']);
    else
      entities.forEach((e, i) => {
        if (!isObject(e)) return problems.push([`activity.entities[${i}]`, 'must be an object']);
        if (e.type === 'mention') account(`activity.entities[${i}].mentioned`, e.mentioned, false);
        problems.push([`activity.entities[${i}].text`, badOptionalString(e.text)]);
      });
  }
  problems.push(['activity.text', badOptionalString(activity.text)]);
  problems.push(['activity.action', badOptionalString(activity.action)]);
  const found = problems.find(([, problem]) => problem !== undefined);
  return found ? `${found[0]} ${found[1]}` : undefined;
}
