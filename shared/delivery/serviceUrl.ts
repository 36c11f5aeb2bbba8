/**
 * Where the bot may send its token. Bot Framework service URLs for Teams live on a handful of
 * Microsoft hosts; anything else is refused unless an operator adds it (`BOT_EXTRA_SERVICE_HOSTS`,
 * for local emulators), so a forged activity or a job can never steer the bot's token elsewhere.
 */
const MICROSOFT_HOSTS: readonly RegExp[] = [
  /^smba\.trafficmanager\.net$/,
  /^smba\.infra\.(gcc|gov|dod)\.teams\.microsoft\.(com|us)$/,
  /(^|\.)botframework\.com$/,
  /(^|\.)botframework\.us$/,
  /(^|\.)botframework\.azure\.cn$/,
];

function isMicrosoftServiceUrl(serviceUrl: string): boolean {
  const url = safeUrl(serviceUrl);
  return (
    !!url && url.protocol === 'https:' && MICROSOFT_HOSTS.some((re) => re.test(url.hostname.toLowerCase()))
  );
}

/** `extraHosts` entries are `host` or `host:port`. */
export function isTrustedServiceUrl(serviceUrl: string, extraHosts: readonly string[]): boolean {
  if (isMicrosoftServiceUrl(serviceUrl)) return true;
  const url = safeUrl(serviceUrl);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) return false;
  const host = url.hostname.toLowerCase();
  return extraHosts.some((entry) => entry === host || entry === url.host.toLowerCase());
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

export class UntrustedServiceUrlError extends Error {
  override name = 'UntrustedServiceUrlError';
  constructor(serviceUrl: string) {
    super(`Refusing to call untrusted service URL host "${safeUrl(serviceUrl)?.host ?? 'invalid'}"`);
  }
}
