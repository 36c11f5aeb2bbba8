import {
  ClientAssertionCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import type { AppConfig } from '../config.js';

/**
 * The bot's app registration's token for Microsoft Graph. Graph's application permissions are
 * granted to the app registration (infra/bot-registration.bicep), so the app signs in as it, with
 * @azure/identity: with the registration's only credential, the federated identity credential
 * trusting the managed identity, a ClientAssertionCredential whose assertion is the managed
 * identity's token for Entra's token exchange ("Configure an application to trust a managed
 * identity", entra-docs docs/workload-id/workload-identity-federation-config-app-trust-managed-identity.md);
 * a client secret for development bots; the managed identity itself when it is the bot
 * (UserAssignedMsi). @azure/identity caches and refreshes both tokens.
 */

/** The audience a managed identity's token must have to serve as a client assertion (same page). */
const TOKEN_EXCHANGE_SCOPE = 'api://AzureADTokenExchange/.default';

export interface GraphTokens {
  /** A token for `scope` in `tenantId`'s directory. */
  token(tenantId: string): Promise<string>;
  /** The app roles of the last token for the tenant (its `roles` claim), when it is a JWT. */
  roles(tenantId: string): Promise<readonly string[] | undefined>;
}

function credentialFor(bot: AppConfig['bot'], tenantId: string): TokenCredential {
  const appId = bot.appId!;
  if (bot.appType === 'UserAssignedMsi') return new ManagedIdentityCredential({ clientId: appId });
  if (bot.managedIdentityClientId) {
    const identity = new ManagedIdentityCredential({ clientId: bot.managedIdentityClientId });
    return new ClientAssertionCredential(
      tenantId,
      appId,
      async () => (await identity.getToken(TOKEN_EXCHANGE_SCOPE)).token,
    );
  }
  return new ClientSecretCredential(tenantId, appId, bot.appPassword!);
}

/**
 * The `roles` claim of an app-only access token (Microsoft identity platform access token claims
 * reference: `roles`, "the set of permissions exposed by your application that ... has been given
 * permission to call"); read, not validated: it is our own token, used only to name what is missing.
 */
export function rolesOf(token: string): readonly string[] | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { roles?: unknown };
    return Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return undefined;
  }
}

export function graphTokens(bot: AppConfig['bot'], scope: string): GraphTokens {
  const credentials = new Map<string, TokenCredential>();
  const latest = new Map<string, string>();
  const token = async (tenantId: string) => {
    let credential = credentials.get(tenantId);
    if (!credential) credentials.set(tenantId, (credential = credentialFor(bot, tenantId)));
    const access = await credential.getToken(scope);
    if (!access) throw new Error('no token for Microsoft Graph');
    latest.set(tenantId, access.token);
    return access.token;
  };
  return {
    token,
    async roles(tenantId) {
      return rolesOf(latest.get(tenantId) ?? (await token(tenantId)));
    },
  };
}
