import { inboundAuthentication, loadConfig } from '../../shared/config.js';

let reported = false;

/** Says at start-up, once, when inbound activities are unauthenticated or refused. */
export function reportInboundAuthentication(
  env = process.env,
  log: Pick<Console, 'warn' | 'error'> = console,
): void {
  if (reported) return;
  const config = loadConfig(env);
  const mode = inboundAuthentication(config);
  if (mode === 'token') return;
  reported = true;
  if (mode === 'none') {
    log.warn(
      'WARNING: MicrosoftAppId is not set and ALLOW_UNAUTHENTICATED_ACTIVITIES=true: inbound activities are NOT authenticated. Use this only with a local emulator.',
    );
  } else if (config.runsInAzure) {
    log.error(
      'ERROR: MicrosoftAppId is not set: /api/messages refuses every activity. Set MicrosoftAppId (and MicrosoftAppType, MicrosoftAppTenantId) in the app settings; ALLOW_UNAUTHENTICATED_ACTIVITIES is ignored in Azure.',
    );
  } else {
    log.error(
      'ERROR: MicrosoftAppId is not set: /api/messages refuses every activity. Set MicrosoftAppId, or ALLOW_UNAUTHENTICATED_ACTIVITIES=true for a local emulator.',
    );
  }
}
