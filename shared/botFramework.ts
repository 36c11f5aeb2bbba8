import {
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  ConfigurationServiceClientCredentialFactory,
} from 'botbuilder';
import type { AppConfig } from './config.js';
import type { TokenSource } from './delivery/connector.js';

/** The bot's Bot Framework credentials, shared by the inbound adapter and outbound delivery. */

const BOT_FRAMEWORK_SCOPE = 'https://api.botframework.com';
const LOGIN_URL = 'https://login.microsoftonline.com';

/** botbuilder's configuration keys, from our settings. */
function botSettings(config: AppConfig) {
  const { appId, appPassword, appType, appTenantId, openIdMetadataUrl, tokenIssuer } = config.bot;
  return {
    MicrosoftAppId: appId ?? '',
    MicrosoftAppPassword: appPassword ?? '',
    MicrosoftAppType: appType,
    MicrosoftAppTenantId: appTenantId ?? '',
    // Overriding either inbound endpoint makes botbuilder leave every other endpoint unset, so the
    // public-cloud defaults for the rest are then passed explicitly.
    ...(openIdMetadataUrl || tokenIssuer
      ? {
          ToBotFromChannelOpenIdMetadataUrl:
            openIdMetadataUrl ?? 'https://login.botframework.com/v1/.well-known/openidconfiguration',
          ToBotFromChannelTokenIssuer: tokenIssuer ?? 'https://api.botframework.com',
          ToChannelFromBotLoginUrl: `${LOGIN_URL}/botframework.com`,
          ToChannelFromBotOAuthScope: BOT_FRAMEWORK_SCOPE,
          CallerId: 'urn:botframework:azure',
        }
      : {}),
  };
}

/** The adapter that validates every inbound activity's JWT (unless no app ID is configured). */
export function createAdapter(config: AppConfig): CloudAdapter {
  return new CloudAdapter(new ConfigurationBotFrameworkAuthentication(botSettings(config)));
}

/** The bot's outbound token (Microsoft Entra, via botbuilder's credential factory); none without an app ID. */
export function createTokenSource(config: AppConfig): TokenSource {
  const { appId, appType, appTenantId } = config.bot;
  if (!appId) return async () => undefined;
  const factory = new ConfigurationServiceClientCredentialFactory(botSettings(config));
  const tenant = appType === 'MultiTenant' ? 'botframework.com' : appTenantId;
  let credentials: Promise<{ getToken(force?: boolean): Promise<string> }> | undefined;
  return async () => {
    credentials ??= factory.createCredentials(
      appId,
      BOT_FRAMEWORK_SCOPE,
      `${LOGIN_URL}/${tenant}`,
      true,
    ) as never;
    return (await credentials).getToken();
  };
}
