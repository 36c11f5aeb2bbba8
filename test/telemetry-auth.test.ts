import { describe, expect, it } from 'vitest';
import { parseAuthenticationString, readTelemetrySettings } from '../shared/config.js';

/**
 * The infra disables Application Insights' local (key) authentication, so the app's exporter must
 * sign in with the managed identity named by APPLICATIONINSIGHTS_AUTHENTICATION_STRING, the
 * setting the Functions host reads for its own telemetry.
 */
describe('APPLICATIONINSIGHTS_AUTHENTICATION_STRING', () => {
  it('names the user-assigned identity the exporter signs in with', () => {
    expect(
      parseAuthenticationString('Authorization=AAD;ClientId=4c1d2e3f-0000-4a4a-8b8b-123456789abc'),
    ).toEqual({
      clientId: '4c1d2e3f-0000-4a4a-8b8b-123456789abc',
    });
    expect(parseAuthenticationString('ClientId=abc; Authorization=aad')).toEqual({ clientId: 'abc' });
  });

  it('means the system-assigned identity without a ClientId, and key authentication when unset', () => {
    expect(parseAuthenticationString('Authorization=AAD')).toEqual({ clientId: undefined });
    expect(parseAuthenticationString(undefined)).toBeUndefined();
    expect(readTelemetrySettings({}).entraAuth).toBeUndefined();
  });

  it('refuses a value without Authorization=AAD', () => {
    expect(() => parseAuthenticationString('ClientId=abc')).toThrow(/Authorization=AAD/);
  });
});
