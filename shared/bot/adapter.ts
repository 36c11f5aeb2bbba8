import {
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  ConfigurationServiceClientCredentialFactory,
} from 'botbuilder';
import type { AppConfig } from '../config.js';
import type { TokenSource } from '../delivery/connector.js';

/** botbuilder's configuration keys, from our settings. */
function botSettings(config: AppConfig) {
  const { appId, appPassword, appType, appTenantId, openIdMetadataUrl, tokenIssuer } = config.bot;
  return {
    MicrosoftAppId: appId ?? '',
    MicrosoftAppPassword: appPassword ?? '',
    MicrosoftAppType: appType,
    MicrosoftAppTenantId: appTenantId ?? '',
    ...(openIdMetadataUrl ? { ToBotFromChannelOpenIdMetadataUrl: openIdMetadataUrl } : {}),
    ...(tokenIssuer ? { ToBotFromChannelTokenIssuer: tokenIssuer } : {}),
  };
}

/** The adapter that validates every inbound activity's JWT (unless no app ID is configured). */
export function createAdapter(config: AppConfig): CloudAdapter {
  return new CloudAdapter(new ConfigurationBotFrameworkAuthentication(botSettings(config)));
}

const BOT_FRAMEWORK_SCOPE = 'https://api.botframework.com';
const LOGIN_URL = 'https://login.microsoftonline.com';

/** The bot's outbound token (Microsoft Entra, via botbuilder's credential factory); none without an app ID. */
export function createTokenSource(config: AppConfig): TokenSource {
  const { appId, appType, appTenantId } = config.bot;
  if (!appId) return async () => undefined;
  const factory = new ConfigurationServiceClientCredentialFactory(botSettings(config));
  const tenant = appType === 'MultiTenant' ? 'botframework.com' : appTenantId;
  let credentials: Promise<{ getToken(force?: boolean): Promise<string> }> | undefined;
  return async () => {
    credentials ??= factory.createCredentials(appId, BOT_FRAMEWORK_SCOPE, `${LOGIN_URL}/${tenant}`, true) as never;
    return (await credentials).getToken();
  };
}
