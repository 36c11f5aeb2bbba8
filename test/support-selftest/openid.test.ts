/**
 * Proves test/support/openid.ts stands in for the Bot Framework's OpenID keys: botbuilder's real JWT
 * validation accepts its tokens and rejects bad ones, and nothing leaves this machine.
 */
import type { ClientRequest } from 'node:http';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { ConfigurationBotFrameworkAuthentication } from 'botbuilder';
import type { Activity } from 'botbuilder';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startOpenIdServer } from '../support/openid.js';
import type { OpenIdServer } from '../support/openid.js';

describe('startOpenIdServer + botbuilder channel-token validation', () => {
  const APP_ID = 'app-id';
  const SERVICE_URL = 'https://smba.trafficmanager.net/amer/';
  const activity = {
    type: 'message',
    channelId: 'msteams',
    serviceUrl: SERVICE_URL,
    conversation: { id: 'a:1x' },
    from: { id: '29:user' },
    recipient: { id: `28:${APP_ID}` },
  } as Activity;

  let openid: OpenIdServer;
  let auth: ConfigurationBotFrameworkAuthentication;
  // Every host any HTTP client in this process contacts while these tests run.
  const hosts: string[] = [];
  const onHttp = (msg: unknown) => hosts.push((msg as { request: ClientRequest }).request.host);
  const onUndici = (msg: unknown) =>
    hosts.push(new URL((msg as { request: { origin: string } }).request.origin).hostname);

  beforeAll(async () => {
    subscribe('http.client.request.start', onHttp);
    subscribe('undici:request:create', onUndici);
    // botbuilder console.errors every rejected token; keep the output readable.
    vi.spyOn(console, 'error').mockImplementation(() => {});
    openid = await startOpenIdServer();
    auth = new ConfigurationBotFrameworkAuthentication({
      MicrosoftAppId: APP_ID,
      MicrosoftAppPassword: 'x',
      MicrosoftAppType: 'MultiTenant',
      ToBotFromChannelOpenIdMetadataUrl: openid.metadataUrl,
      ToBotFromChannelTokenIssuer: openid.issuer,
    });
  });
  afterAll(async () => {
    unsubscribe('http.client.request.start', onHttp);
    unsubscribe('undici:request:create', onUndici);
    vi.restoreAllMocks();
    await openid.stop();
  });

  const channelToken = (claims: Record<string, unknown> = {}, opts?: Parameters<OpenIdServer['sign']>[1]) =>
    openid.sign({ aud: APP_ID, serviceurl: SERVICE_URL, ...claims }, opts);

  it('accepts a good token without contacting any non-local host', async () => {
    const result = await auth.authenticateRequest(activity, `Bearer ${await channelToken()}`);
    expect(result.claimsIdentity.isAuthenticated).toBe(true);
    expect(result.claimsIdentity.getClaimValue('aud')).toBe(APP_ID);
    expect(openid.requests.some((p) => p.endsWith('/.well-known/openidconfiguration'))).toBe(true);
    expect(openid.requests.some((p) => p.endsWith('/keys'))).toBe(true);
    expect(hosts.length).toBeGreaterThan(0); // the guard does see botbuilder's fetches
    expect(new Set(hosts)).toEqual(new Set(['127.0.0.1']));
  });

  it('tolerates 5 minutes of clock skew, like botbuilder does', async () => {
    const token = await channelToken({}, { expiresIn: -120 });
    await expect(auth.authenticateRequest(activity, `Bearer ${token}`)).resolves.toBeTruthy();
  });

  // Note the two non-AuthenticationErrors (raw jsonwebtoken errors): CloudAdapter.process answers
  // those with 500, not 401.
  const rejected: { name: string; token: () => Promise<string>; on?: Partial<Activity>; error: RegExp }[] = [
    {
      name: 'forged signature',
      token: () => channelToken({}, { key: 'forged' }),
      error: /invalid signature/,
    },
    {
      name: 'expired beyond the tolerance',
      token: () => channelToken({}, { expiresIn: -600 }),
      error: /expired/,
    },
    { name: 'not yet valid', token: () => channelToken({}, { notBefore: '10m' }), error: /jwt not active/ },
    { name: 'wrong audience', token: () => channelToken({ aud: 'other-app' }), error: /Invalid AppId/ },
    {
      name: 'wrong issuer',
      token: () => channelToken({ iss: 'https://evil.example.com' }),
      error: /No valid identity/,
    },
    {
      name: 'serviceurl not matching the activity',
      token: () => channelToken({ serviceurl: 'https://evil.example.com/' }),
      error: /ServiceUrl claim do not match/,
    },
    {
      name: 'key not endorsed for the channel',
      token: () => channelToken(),
      on: { channelId: 'webchat' },
      error: /endorsement/,
    },
    {
      name: 'ver + appid other than aud (taken for a skill token)',
      token: () => channelToken({ ver: '1.0', appid: 'other' }),
      error: /SkillValidation/,
    },
  ];
  it.each(rejected)('rejects: $name', async ({ token, on, error }) => {
    const header = `Bearer ${await token()}`;
    await expect(auth.authenticateRequest({ ...activity, ...on }, header)).rejects.toThrow(error);
    expect(new Set(hosts)).toEqual(new Set(['127.0.0.1']));
  });
});
