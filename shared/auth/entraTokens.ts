import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import type { ProducerSettings } from '../config.js';
import { rolesOf, type Caller } from './roles.js';

/**
 * Microsoft Entra access tokens of producers, checked with jose against the tenant's OpenID
 * metadata: v2.0 issuer of an allowed tenant, signature by a key of the tenant's JWKS, audience the
 * app's ID URI or app ID, current (5 minutes' clock skew, as Entra's own libraries allow). What a
 * v2.0 access token carries (`tid`, `azp`, `oid`, `roles`, `ver`): "Access token claims reference"
 * (learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
 */

type Entra = NonNullable<ProducerSettings['entra']>;
export type TokenCheck = { ok: true; caller: Caller } | { ok: false; why: string };

const METADATA_TTL_MS = 24 * 3600_000;
const CLOCK_SKEW_S = 300;

interface Metadata {
  issuer: string;
  keys: ReturnType<typeof createRemoteJWKSet>;
}

export class EntraTokenVerifier {
  private readonly metadata = new Map<string, { at: number; value: Promise<Metadata> }>();

  constructor(private readonly entra: Entra) {}

  async verify(token: string): Promise<TokenCheck> {
    let claims: JWTPayload;
    try {
      claims = decodeJwt(token);
    } catch {
      return { ok: false, why: 'the bearer token is not a JWT' };
    }
    // The tenant decides whose metadata to read: only allowed tenants', never one a caller names freely.
    const tenant = typeof claims.tid === 'string' ? claims.tid.toLowerCase() : '';
    if (!this.entra.tenants.includes(tenant))
      return { ok: false, why: `tokens from tenant ${tenant || '(none)'} are not accepted` };
    const meta = await this.metadataOf(tenant);
    try {
      const { payload } = await jwtVerify(token, meta.keys, {
        issuer: meta.issuer,
        audience: [...this.entra.audiences],
        algorithms: ['RS256'],
        clockTolerance: CLOCK_SKEW_S,
        requiredClaims: ['exp', 'tid'],
      });
      return { ok: true, caller: callerOf(payload) };
    } catch (err) {
      return { ok: false, why: describe(err, meta.issuer) };
    }
  }

  private metadataOf(tenant: string): Promise<Metadata> {
    const cached = this.metadata.get(tenant);
    if (cached && Date.now() - cached.at < METADATA_TTL_MS) return cached.value;
    const value = readMetadata(this.entra.metadataUrl.replace('{tenantId}', encodeURIComponent(tenant)));
    // A failed read is not kept: the next request asks again.
    value.catch(() => this.metadata.delete(tenant));
    this.metadata.set(tenant, { at: Date.now(), value });
    return value;
  }
}

async function readMetadata(url: string): Promise<Metadata> {
  const answer = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!answer.ok) throw new Error(`OpenID metadata ${url}: HTTP ${answer.status}`);
  const doc = (await answer.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (typeof doc.issuer !== 'string' || typeof doc.jwks_uri !== 'string')
    throw new Error(`OpenID metadata ${url} has no issuer or jwks_uri`);
  return { issuer: doc.issuer, keys: createRemoteJWKSet(new URL(doc.jwks_uri)) };
}

function callerOf(claims: JWTPayload): Caller {
  // azp in v2.0 tokens, appid in v1.0 ones (the issuer check admits v2.0 only; kept for clarity).
  const appId = String(claims.azp ?? claims.appid ?? '');
  const objectId = typeof claims.oid === 'string' ? claims.oid : undefined;
  return { kind: 'entra', id: appId || objectId || 'unknown', appId, objectId, roles: rolesOf(claims.roles) };
}

function describe(err: unknown, issuer: string): string {
  if (err instanceof errors.JWTExpired) return 'the bearer token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return `the token's issuer is not ${issuer} (a v2.0 token of an allowed tenant)`;
    if (err.claim === 'aud') return "the token is for another audience, not this app's ID URI or app ID";
    if (err.claim === 'nbf') return 'the bearer token is not valid yet';
    return `the token's ${err.claim} claim is not acceptable`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return "the token's signature is not valid";
  if (err instanceof errors.JWKSNoMatchingKey) return "the token is not signed by a key of the tenant's";
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token is not signed with RS256';
  if (err instanceof errors.JOSEError) return `the bearer token is not valid (${err.code})`;
  throw err;
}
