import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenSource } from '../shared/botFramework.js';
import { loadConfig } from '../shared/config.js';
import { TENANT } from './support/app.js';
import {
  APP_ID,
  MI_CLIENT_ID,
  startDeployedIdentity,
  type DeployedIdentity,
} from './support/deployedIdentity.js';
import type { EntraLogin } from './support/entraLogin.js';
import type { ManagedIdentityServer } from './support/managedIdentity.js';

/**
 * A function app instance lives for days while it is busy. botbuilder's FederatedAppCredentials
 * (botframework-connector lib/auth/federatedAppCredentials.js) fetches the managed identity's token
 * once and keeps it as the client assertion for every later token request; that token expires
 * (here after a day), and Entra then refuses it. The bot's outbound token source must present a
 * current assertion whenever it needs a new Bot Framework token. The clock (Date only) is moved
 * instead of waited for; msal, botbuilder's token cache and the fakes all read it.
 */

const HOUR = 3600;

let identity: DeployedIdentity;
let login: EntraLogin;
let msi: ManagedIdentityServer;
let unroute: () => void;
const saved = {
  IDENTITY_ENDPOINT: process.env.IDENTITY_ENDPOINT,
  IDENTITY_HEADER: process.env.IDENTITY_HEADER,
};

beforeAll(async () => {
  identity = await startDeployedIdentity({ assertionSeconds: 24 * HOUR, tokenLifetimeSeconds: HOUR });
  ({ login, msi } = identity);
  // msal-node finds the App Service identity endpoint in the process environment, as in Azure.
  Object.assign(process.env, msi.env);
  unroute = login.route();
});

afterAll(async () => {
  vi.useRealTimers();
  unroute?.();
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await identity?.stop();
});

describe("the bot's federated credential over days", () => {
  it('presents a current managed-identity token each time it needs a new Bot Framework token', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const token = createTokenSource(
      loadConfig({
        MicrosoftAppId: APP_ID,
        MicrosoftAppType: 'SingleTenant',
        MicrosoftAppTenantId: TENANT,
        MicrosoftAppClientId: MI_CLIENT_ID,
      }),
    );

    const first = await token();
    expect(first).toBe(login.issuedTokens[0]);
    expect(await token()).toBe(first); // cached: no new request while it is valid
    expect(login.tokenRequests).toHaveLength(1);

    // Every hour a new Bot Framework token, for two days: the managed identity's token that was the
    // first assertion expired after one.
    const assertions = new Set<string>();
    for (let hour = 1; hour <= 48; hour++) {
      vi.setSystemTime(Date.now() + HOUR * 1000);
      const next = await token();
      expect(next, `hour ${hour}`).toBe(login.issuedTokens.at(-1));
      const assertion = login.tokenRequests.at(-1)!.form.client_assertion!;
      expect(decodeJwt(assertion).exp! * 1000, `hour ${hour}`).toBeGreaterThan(Date.now());
      assertions.add(assertion);
    }
    expect(login.tokenRequests).toHaveLength(49);
    expect(login.issuedTokens).toHaveLength(49);
    // Fresh identity tokens were fetched as the old ones expired, not one per Bot Framework token.
    expect(assertions.size).toBeGreaterThan(1);
    expect(msi.requests.length).toBeLessThan(10);
  });
});

describe('MicrosoftAppClientId', () => {
  const base = { MicrosoftAppId: APP_ID, MicrosoftAppTenantId: TENANT, MicrosoftAppClientId: MI_CLIENT_ID };
  it('is read for a single-tenant app and refused beside a password, another app type or no tenant', () => {
    expect(loadConfig({ ...base, MicrosoftAppType: 'SingleTenant' }).bot.managedIdentityClientId).toBe(
      MI_CLIENT_ID,
    );
    expect(() => loadConfig({ ...base, MicrosoftAppType: 'MultiTenant' })).toThrow(
      'MicrosoftAppClientId needs MicrosoftAppType=SingleTenant, got MultiTenant',
    );
    expect(() =>
      loadConfig({ ...base, MicrosoftAppType: 'SingleTenant', MicrosoftAppPassword: 'pw' }),
    ).toThrow('MicrosoftAppClientId and MicrosoftAppPassword are both set: use one credential');
    expect(() => loadConfig({ ...base, MicrosoftAppType: 'SingleTenant', MicrosoftAppTenantId: '' })).toThrow(
      'MicrosoftAppClientId needs MicrosoftAppTenantId',
    );
  });
});
