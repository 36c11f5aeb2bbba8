import { loadConfig } from '../../shared/config.js';

let warned = false;

/** Running without an app ID accepts unauthenticated activities: say so loudly, once. */
export function warnIfAuthenticationDisabled(env = process.env): void {
  if (warned || loadConfig(env).bot.appId) return;
  warned = true;
  console.warn(
    'WARNING: MicrosoftAppId is not set: inbound activities are NOT authenticated. Use this only with a local emulator.',
  );
}
