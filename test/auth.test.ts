import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, TENANT, type TestApp } from './support/app.js';
import { teamEvent } from './support/activities.js';
import { startOpenIdServer, type OpenIdServer } from './support/openid.js';

/**
 * Real JWT validation: botbuilder's ConfigurationBotFrameworkAuthentication reads our OpenID
 * metadata and keys (endorsed for msteams), and checks tokens we sign.
 */

const APP_ID = '5f2b8c1e-0d4a-4c59-9a61-1f3c7d2e9b10';
let app: TestApp;
let openId: OpenIdServer;

beforeAll(async () => {
  openId = await startOpenIdServer();
  app = await startApp({
    env: {
      MicrosoftAppId: APP_ID,
      MicrosoftAppPassword: 'not-a-real-secret',
      MicrosoftAppType: 'MultiTenant',
      ToBotFromChannelOpenIdMetadataUrl: openId.metadataUrl,
      ToBotFromChannelTokenIssuer: openId.issuer,
      BOT_EXTRA_SERVICE_HOSTS: '127.0.0.1',
    },
  });
});

afterAll(async () => {
  await app?.stop();
  await openId?.stop();
});

let n = 0;
/** A member joining a team: stored even when the roster call cannot get a token (no Microsoft login here). */
function memberJoined() {
  n += 1;
  const user = { id: `29:auth-user-${n}`, name: `User ${n}`, aadObjectId: `aad-auth-${n}` };
  return {
    user,
    activity: teamEvent(app.connector.url, 'team-auth', user, {
      eventType: 'teamMemberAdded',
      membersAdded: [user],
    }),
  };
}

async function stored(userId: string): Promise<boolean> {
  try {
    await app.table('Conversations').getEntity(TENANT, `user|${encodeURIComponent(userId)}`);
    return true;
  } catch {
    return false;
  }
}

async function send(activity: { serviceUrl: string }, token?: string) {
  return app.post('messages', activity, token ? { authorization: `Bearer ${token}` } : {});
}

describe('inbound authentication', () => {
  it('accepts a valid channel token and processes the activity', async () => {
    const { user, activity } = memberJoined();
    const token = await openId.sign({ aud: APP_ID, serviceurl: activity.serviceUrl });
    const res = await send(activity, token);
    expect(res.status).toBe(200);
    expect(await stored(user.id)).toBe(true);
    expect(openId.requests.some((p) => p.includes('keys'))).toBe(true);
  });

  const rejected: Array<[string, (serviceUrl: string) => Promise<string | undefined>]> = [
    ['no token', async () => undefined],
    ['a forged signature', (serviceurl) => openId.sign({ aud: APP_ID, serviceurl }, { key: 'forged' })],
    [
      'an expired token',
      (serviceurl) => openId.sign({ aud: APP_ID, serviceurl }, { expiresIn: '-1h', notBefore: '-2h' }),
    ],
    ['the wrong audience', (serviceurl) => openId.sign({ aud: 'another-bot', serviceurl })],
    [
      'the wrong issuer',
      (serviceurl) => openId.sign({ aud: APP_ID, serviceurl, iss: 'https://sts.example.com/' }),
    ],
    [
      'a service URL that differs from the token',
      () => openId.sign({ aud: APP_ID, serviceurl: 'https://smba.trafficmanager.net/amer/' }),
    ],
  ];

  for (const [what, token] of rejected) {
    it(`answers 401 to ${what} and stores nothing`, async () => {
      const { user, activity } = memberJoined();
      const res = await send(activity, await token(activity.serviceUrl));
      expect(res.status).toBe(401);
      expect(await stored(user.id)).toBe(false);
    });
  }

  it('never calls the connector for a refused activity', async () => {
    const before = app.connector.calls.length;
    const { activity } = memberJoined();
    await send(activity, await openId.sign({ aud: 'another-bot', serviceurl: activity.serviceUrl }));
    expect(app.connector.calls.length).toBe(before);
  });
});
