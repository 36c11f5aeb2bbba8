import { createTokenSource } from '../../shared/botFramework.js';
import { inboundAuthentication, loadConfig, readStorageSettings } from '../../shared/config.js';

type Env = Record<string, string | undefined>;

/**
 * What keeps the app from doing its job with these settings, each naming the setting and never its
 * value: an unreadable setting, no storage, no bot identity where one is required, bot credentials
 * botbuilder refuses, no telemetry in Azure. Empty when the configuration is complete.
 */
export function configurationProblems(env: Env): string[] {
  const problems: string[] = [];
  const storage = readStorageSettings(env);
  if (!storage.connectionString && !(storage.queueServiceUri && storage.tableServiceUri)) {
    problems.push(
      'AzureWebJobsStorage is not set (a connection string, or AzureWebJobsStorage__queueServiceUri and __tableServiceUri)',
    );
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (err) {
    // ConfigError names the setting and quotes the value it got; the value stays out of the answer.
    const e = err as Error;
    problems.push(
      e.name === 'ConfigError' ? e.message.replace(/, got .*$/s, '') : `configuration: ${e.name}`,
    );
    return problems;
  }
  if (inboundAuthentication(config) === 'refuse') problems.push('MicrosoftAppId is not set');
  const { appId, appPassword, appType } = config.bot;
  if (appId) {
    try {
      // The credentials the bot signs in with, built as delivery builds them (no network call).
      createTokenSource(config);
    } catch (err) {
      const e = err as Error;
      // botbuilder's assertions name the missing setting ("MicrosoftAppTenantId is required for ...").
      problems.push(e.name === 'AssertionError' ? e.message : `bot credentials: ${e.name}`);
    }
    if (appType === 'MultiTenant' && !appPassword) {
      problems.push('MicrosoftAppPassword is not set (MicrosoftAppType MultiTenant signs in with it)');
    }
  }
  if (config.runsInAzure && !config.telemetry.connectionString) {
    problems.push('APPLICATIONINSIGHTS_CONNECTION_STRING is not set');
  }
  return problems;
}
