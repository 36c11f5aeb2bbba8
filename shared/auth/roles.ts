/**
 * Producers' app roles (defined on the bot's app registration, infra/bot-registration.bicep) and the
 * pure decisions made with them: which role an operation needs, and whose jobs a caller may see.
 */

export const ROLES = {
  send: 'Notifications.Send',
  read: 'Notifications.Read',
  admin: 'Notifications.Admin',
} as const;
export type Role = (typeof ROLES)[keyof typeof ROLES];
const ALL_ROLES: readonly Role[] = Object.values(ROLES);

export type Operation = 'send' | 'read' | 'update' | 'recall';

/** A job's producer as recorded on it and shown in its status (never a secret, never a token). */
export interface ProducerRef {
  /** How it signed in: a Microsoft Entra token, a shared key, or nothing (sandbox only). */
  kind: 'entra' | 'key' | 'open';
  /** Stable ID of the producer: quotas, metrics and job ownership go by it. */
  id: string;
  /** The client application (`azp`, or `appid` in a v1 token). */
  appId?: string | undefined;
  /** The client's service principal or managed identity (`oid`). */
  objectId?: string | undefined;
}

export interface Caller extends ProducerRef {
  roles: ReadonlySet<Role>;
}

/** Keys and the sandbox stand for the whole app, as the function key always did: every role. */
export const trustedCaller = (kind: 'key' | 'open'): Caller => ({
  kind,
  id: kind === 'key' ? 'key' : 'sandbox',
  roles: new Set(ALL_ROLES),
});

/** The roles a token names that are ours; others are ignored. */
export const rolesOf = (claim: unknown): Set<Role> =>
  new Set((Array.isArray(claim) ? claim : []).filter((r): r is Role => ALL_ROLES.includes(r as Role)));

/** The role an operation needs: sending and changing what was sent need Send, reading Read. */
export function requiredRoles(op: Operation): readonly Role[] {
  if (op === 'send') return [ROLES.send];
  if (op === 'read') return [ROLES.read, ROLES.admin];
  return [ROLES.send, ROLES.admin];
}

export function missingRole(caller: Caller, op: Operation): Role | undefined {
  const needed = requiredRoles(op);
  return needed.some((role) => caller.roles.has(role)) ? undefined : needed[0];
}

/**
 * A producer reads, updates and recalls its own jobs; Notifications.Admin (and a key, which is the
 * app's) any job. A job without a recorded producer (queued directly) is only an admin's.
 */
export const mayTouchJob = (caller: Caller, owner: ProducerRef | undefined): boolean =>
  caller.roles.has(ROLES.admin) || (!!owner && owner.id === caller.id);

/** What a job records of its producer: the caller without its roles. */
export const producerOf = ({ kind, id, appId, objectId }: Caller): ProducerRef => ({
  kind,
  id,
  ...(appId ? { appId } : {}),
  ...(objectId ? { objectId } : {}),
});
