import { TENANT } from './app.js';
import { TOKEN_EXCHANGE_AUDIENCE, startEntraLogin, type EntraLogin } from './entraLogin.js';
import { startManagedIdentity, type ManagedIdentityServer } from './managedIdentity.js';

/**
 * The deployment's bot identity as infra/bot-registration.bicep makes it: a single-tenant app
 * registration whose only credential is a federated identity credential trusting the function app's
 * user-assigned managed identity. Entra and the identity endpoint are fakes after Microsoft's docs
 * (entraLogin.ts, managedIdentity.ts). The IDs are arbitrary GUIDs.
 */
export const APP_ID = '3f6c1a9e-52d4-4b0f-9e7a-8c1d2b4e6f90';
export const MI_CLIENT_ID = '9b2e4c71-0a3d-4f58-b6e1-27c9d8a5f304';
export const MI_PRINCIPAL_ID = 'd41f7a0c-8e62-4b95-a3c7-50e1f9b2c6d8';
/** The issuer of the managed identity's tokens: the tenant's v2.0 authority. */
export const ISSUER = `https://login.microsoftonline.com/${TENANT}/v2.0`;

export interface DeployedIdentityOptions {
  /** Lifetime of the managed identity's tokens (the client assertions). */
  assertionSeconds: number;
  /** Lifetime of the access tokens Entra hands out. */
  tokenLifetimeSeconds?: number;
  /** Microsoft Graph application permissions granted to the app (entraLogin.ts). */
  graphRoles?: Record<string, readonly string[]>;
}

export interface DeployedIdentity {
  login: EntraLogin;
  msi: ManagedIdentityServer;
  /** The app's settings for this identity, as infra/resources.bicep sets them. */
  appSettings(connectorUrl: string): Record<string, string>;
  stop(): Promise<void>;
}

export async function startDeployedIdentity(o: DeployedIdentityOptions): Promise<DeployedIdentity> {
  const login = await startEntraLogin({
    tenantId: TENANT,
    apps: { [APP_ID]: [{ issuer: ISSUER, subject: MI_PRINCIPAL_ID, audience: TOKEN_EXCHANGE_AUDIENCE }] },
    ...(o.tokenLifetimeSeconds ? { tokenLifetimeSeconds: o.tokenLifetimeSeconds } : {}),
    ...(o.graphRoles ? { graphRoles: o.graphRoles } : {}),
  });
  const msi = await startManagedIdentity({
    issue: async ({ clientId, resource }) => {
      // The function app has this one user-assigned identity; a request for another finds none.
      if (clientId !== MI_CLIENT_ID) throw new Error(`no identity ${clientId} on this app`);
      const token = await login.mintManagedIdentityToken(MI_PRINCIPAL_ID, resource, o.assertionSeconds);
      return { token, expiresIn: o.assertionSeconds };
    },
  });
  return {
    login,
    msi,
    appSettings: (connectorUrl) => ({
      MicrosoftAppId: APP_ID,
      MicrosoftAppType: 'SingleTenant',
      MicrosoftAppTenantId: TENANT,
      MicrosoftAppClientId: MI_CLIENT_ID,
      ...msi.env,
      BOT_EXTRA_SERVICE_HOSTS: new URL(connectorUrl).host,
      ALLOWED_TENANT_IDS: TENANT,
    }),
    stop: async () => {
      await Promise.all([login.stop(), msi.stop()]);
    },
  };
}
