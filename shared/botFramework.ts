import {
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  ConfigurationServiceClientCredentialFactory,
} from 'botbuilder';
import {
  FederatedServiceClientCredentialsFactory,
  type ServiceClientCredentialsFactory,
} from 'botframework-connector';
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

/**
 * Where the bot's credentials come from. A SingleTenant app registration whose credential is a
 * federated identity credential trusting a user-assigned managed identity gets botbuilder's
 * federated factory, as in Microsoft's sample (BotBuilder-Samples
 * samples/javascript_nodejs/86.bot-authentication-fic/index.js): each token request sends the
 * identity's token (audience api://AzureADTokenExchange) as the client assertion. The factory
 * accepts inbound tokens for the app ID only. Every other setting goes through botbuilder's own
 * configuration factory (password, or the managed identity itself as the app).
 */
function credentialsFactory(config: AppConfig): {
  factory: ServiceClientCredentialsFactory;
  federated: boolean;
} {
  const { appId, appTenantId, managedIdentityClientId } = config.bot;
  if (appId && managedIdentityClientId) {
    return {
      factory: new FederatedServiceClientCredentialsFactory(appId, managedIdentityClientId, appTenantId),
      federated: true,
    };
  }
  return { factory: new ConfigurationServiceClientCredentialFactory(botSettings(config)), federated: false };
}

/** The adapter that validates every inbound activity's JWT (unless no app ID is configured). */
export function createAdapter(config: AppConfig): CloudAdapter {
  return new CloudAdapter(
    new ConfigurationBotFrameworkAuthentication(botSettings(config), credentialsFactory(config).factory),
  );
}

/** The bot's outbound token (Microsoft Entra, via botbuilder's credential factory); none without an app ID. */
export function createTokenSource(config: AppConfig): TokenSource {
  const { appId, appType, appTenantId } = config.bot;
  if (!appId) return async () => undefined;
  const { factory, federated } = credentialsFactory(config);
  const tenant = appType === 'MultiTenant' ? 'botframework.com' : appTenantId;
  // Every credential botbuilder's factories make is an AppCredentials, which has getToken().
  const create = () =>
    factory.createCredentials(
      appId,
      BOT_FRAMEWORK_SCOPE,
      `${LOGIN_URL}/${tenant}`,
      true,
    ) as Promise<unknown> as Promise<{
      getToken(force?: boolean): Promise<string>;
    }>;
  // botbuilder's FederatedAppCredentials fetches the managed identity's token once and reuses it as
  // the client assertion for every later token request, but that token expires (hours), and Entra
  // then refuses the assertion. Fresh credentials per call cost no request while botbuilder's token
  // cache (keyed by app ID and scope) holds the Bot Framework token, and pick up a current
  // assertion from msal's managed-identity cache when it does not. The adapter does the same: it
  // creates credentials per turn.
  let credentials: ReturnType<typeof create> | undefined;
  return async () => (await (federated ? create() : (credentials ??= create()))).getToken();
}
