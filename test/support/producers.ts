import { randomUUID } from 'node:crypto';
import { entraIssuer, type OpenIdServer, type SignOptions } from './openid.js';
import { TENANT } from './app.js';

/**
 * Producers signing in with Microsoft Entra ID, for tests: the app's settings that trust the fake
 * OpenID server (test/support/openid.ts) as the tenant's Entra ID, and app-only v2.0 access tokens
 * with the claims Microsoft documents for them ("Access token claims reference",
 * learn.microsoft.com/entra/identity-platform/access-token-claims-reference: `aud`, `iss`, `tid`,
 * `azp`, `azpacr`, `idtyp` "app", `oid`, `sub` (the object ID for an app), `roles`, `ver` "2.0").
 */

/** The bot's app registration in tests (a made-up client ID: no Microsoft value). */
export const APP_ID = '3f6b5a2e-9c41-4d7e-8a15-6b2c0d9e4f71';
export const APP_ID_URI = `api://botid-${APP_ID}`;

export function entraSettings(server: OpenIdServer): Record<string, string> {
  return {
    PRODUCER_TOKEN_AUDIENCES: `${APP_ID_URI},${APP_ID}`,
    PRODUCER_TOKEN_TENANTS: TENANT,
    PRODUCER_OPENID_METADATA_URL: server.entraMetadataUrl,
  };
}

export interface Producer {
  appId: string;
  objectId: string;
}

export const newProducer = (): Producer => ({ appId: randomUUID(), objectId: randomUUID() });

export function producerToken(
  server: OpenIdServer,
  producer: Producer,
  roles: string[],
  claims: Record<string, unknown> = {},
  options: SignOptions = {},
): Promise<string> {
  return server.sign(
    {
      iss: entraIssuer(TENANT),
      aud: APP_ID,
      tid: TENANT,
      azp: producer.appId,
      azpacr: '2',
      idtyp: 'app',
      oid: producer.objectId,
      sub: producer.objectId,
      roles,
      ver: '2.0',
      ...claims,
    },
    options,
  );
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
