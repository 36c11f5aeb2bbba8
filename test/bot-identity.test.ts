import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TENANT, startApp, type TestApp } from './support/app.js';
import { routingEnv } from './support/workerRouting.js';
import { personalInstall } from './support/activities.js';
import {
  APP_ID,
  ISSUER,
  MI_CLIENT_ID,
  MI_PRINCIPAL_ID,
  startDeployedIdentity,
  type DeployedIdentity,
} from './support/deployedIdentity.js';
import { JWT_BEARER, TOKEN_EXCHANGE_AUDIENCE, type EntraLogin } from './support/entraLogin.js';
import type { ManagedIdentityServer } from './support/managedIdentity.js';
import { channelTokenSettings, startOpenIdServer, type OpenIdServer } from './support/openid.js';
import { FAST_QUEUES, enqueue, seedUser, settled } from './support/pipeline.js';

/**
 * Issue 21: the bot is a single-tenant app registration whose only credential is a federated
 * identity credential trusting the function app's user-assigned managed identity (as
 * infra/bot-registration.bicep makes it). The app asks the managed identity endpoint for a token
 * for Entra's token exchange, presents it to Microsoft Entra ID as the client assertion, and sends
 * the Bot Framework token it gets; inbound activities are still checked against the app ID. Entra
 * and the identity endpoint are fakes shaped after Microsoft's docs (test/support/entraLogin.ts,
 * test/support/managedIdentity.ts); the app runs unchanged, with the real login URL.
 */

const DAY = 24 * 3600;

let identity: DeployedIdentity;
let login: EntraLogin;
let msi: ManagedIdentityServer;
let openId: OpenIdServer;
let app: TestApp;

beforeAll(async () => {
  identity = await startDeployedIdentity({ assertionSeconds: DAY });
  ({ login, msi } = identity);
  openId = await startOpenIdServer();
  app = await startApp({
    env: (connector) => ({
      ...FAST_QUEUES,
      ...identity.appSettings(connector.url),
      ...channelTokenSettings(openId),
      // The app runs in the local host's worker: Entra's host goes to the fake there too.
      ...routingEnv([login.hostRoute]),
    }),
  });
});

afterAll(async () => {
  await app?.stop();
  await Promise.all([identity?.stop(), openId?.stop()]);
});

const authorizations = () =>
  app.connector.calls.map((c) => c.headers.authorization).filter((a): a is string => !!a);

describe('the bot signs in as its app registration with the managed identity, no secret', () => {
  it("asks Entra for a Bot Framework token with the identity's token as client assertion, and sends it", async () => {
    const user = await seedUser(app);
    const { jobId } = await enqueue(app, {
      recipients: [{ upn: user.upn! }],
      message: { text: 'Build green' },
    });
    expect((await settled(app, jobId)).recipients[0]).toMatchObject({ status: 'sent' });

    // The managed identity was asked for a token for Entra's token exchange, as this identity.
    expect(msi.requests.length).toBeGreaterThan(0);
    for (const r of msi.requests) {
      expect(r).toEqual({
        resource: TOKEN_EXCHANGE_AUDIENCE,
        apiVersion: '2019-08-01',
        clientId: MI_CLIENT_ID,
      });
    }
    // One client-credentials request to the tenant's token endpoint: the app ID, the Bot Framework
    // scope, the identity's token as a JWT-bearer client assertion, and no secret.
    expect(login.tokenRequests).toHaveLength(1);
    const [request] = login.tokenRequests;
    expect(request!.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
    expect(request!.form).toMatchObject({
      grant_type: 'client_credentials',
      client_id: APP_ID,
      scope: 'https://api.botframework.com/.default',
      client_assertion_type: JWT_BEARER,
    });
    expect(request!.form).not.toHaveProperty('client_secret');
    expect(Object.values(request!.form).join(' ')).not.toMatch(/secret|password/i);
    expect(decodeJwt(request!.form.client_assertion!)).toMatchObject({
      iss: ISSUER,
      sub: MI_PRINCIPAL_ID,
      aud: TOKEN_EXCHANGE_AUDIENCE,
    });

    // What reached the Bot Connector is the token Entra handed out, and only that.
    expect(login.issuedTokens).toHaveLength(1);
    expect(authorizations().length).toBeGreaterThan(0);
    expect(new Set(authorizations())).toEqual(new Set([`Bearer ${login.issuedTokens[0]}`]));
  });

  it("accepts activities addressed to the app registration's ID and answers with the same token", async () => {
    const user = { id: '29:fic-user', name: 'Adele Vance', aadObjectId: 'aad-fic-user' };
    const chat = 'a:fic-chat';
    app.connector.registerConversation(chat, { tenantId: TENANT, members: [user] });
    const activity = personalInstall(app.connector.url, user, chat);
    const post = async (aud?: string) =>
      app.post(
        'messages',
        activity,
        aud ? { authorization: `Bearer ${await openId.sign({ aud, serviceurl: activity.serviceUrl })}` } : {},
      );

    // Addressed to the managed identity (the old bot ID) or to nobody: refused, nothing sent.
    expect((await post(MI_CLIENT_ID)).status).toBe(401);
    expect((await post()).status).toBe(401);
    expect(app.connector.accepted.some((a) => a.conversationId === chat)).toBe(false);

    expect((await post(APP_ID)).status).toBe(200);
    expect(app.connector.accepted.some((a) => a.conversationId === chat)).toBe(true);
    // The welcome went out through botbuilder's adapter with an Entra token from the same exchange.
    expect(authorizations().every((a) => login.issuedTokens.map((t) => `Bearer ${t}`).includes(a))).toBe(
      true,
    );
    expect(login.tokenRequests.every((r) => r.form.client_assertion_type === JWT_BEARER)).toBe(true);
  });
});
