import { BlockList, isIP } from 'node:net';

/**
 * Where a job's callback may go, as pure decisions. The URL: http(s), no user name or password, a
 * host an operator named in CALLBACK_ALLOWED_HOSTS (`host` or `host:port`, as BOT_EXTRA_SERVICE_HOSTS),
 * https in Azure. Each address the host resolves to: never loopback, private, link-local (the
 * instance metadata endpoint 169.254.169.254 included), shared, multicast or unspecified in Azure, so
 * a callback cannot reach the app's own network; outside Azure a loopback receiver is allowed (the
 * sandbox and tests), like an emulator's service URL. The sender connects to the address checked here
 * (sender.ts), so a DNS answer that changes between check and connect cannot steer it elsewhere.
 */

export interface CallbackPolicy {
  allowedHosts: readonly string[];
  runsInAzure: boolean;
}

const parse = (text: string) => {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
};

/** Why a callback URL is refused (before any DNS lookup), or undefined when it may be called. */
export function refuseCallbackUrl(text: string, policy: CallbackPolicy): string | undefined {
  const url = parse(text);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:'))
    return '/callback/url: must be an absolute http or https URL';
  if (url.username || url.password) return '/callback/url: must not carry a user name or password';
  if (policy.runsInAzure && url.protocol !== 'https:') return '/callback/url: must be https';
  const host = url.hostname.toLowerCase();
  if (!policy.allowedHosts.some((entry) => entry === host || entry === url.host.toLowerCase()))
    return `/callback/url: host ${url.host} is not in CALLBACK_ALLOWED_HOSTS`;
  return undefined;
}

// IANA's special-purpose registries (RFC 6890 and updates): ranges no callback may reach in Azure.
const NEVER = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network", the unspecified address
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // shared address space (RFC 6598)
  ['169.254.0.0', 16], // link-local (RFC 3927): the instance metadata endpoint lives here
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 3], // multicast and reserved, broadcast
] as const)
  NEVER.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], // unspecified
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const)
  NEVER.addSubnet(net, bits, 'ipv6');
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 address it is. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (v4) return { address: v4, family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

/** Why an address a callback host resolved to is refused, or undefined when it may be called. */
export function refuseAddress(raw: string, policy: Pick<CallbackPolicy, 'runsInAzure'>): string | undefined {
  if (!isIP(raw)) return `${raw} is not an IP address`;
  const { address, family } = unmapped(raw);
  if (LOOPBACK.check(address, family))
    return policy.runsInAzure ? `${address} is a loopback address` : undefined;
  if (NEVER.check(address, family)) return `${address} is a private, link-local or reserved address`;
  return undefined;
}
