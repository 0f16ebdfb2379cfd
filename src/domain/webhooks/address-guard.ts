// Where a webhook may be sent: the SSRF defence. An endpoint's host is checked when Gatehouse connects
// to it, against the address it actually connects to (a name that resolved to a public address when
// the endpoint was saved may resolve to 127.0.0.1 now), so the check is a `lookup` for the socket.
// Refused: loopback, private (RFC 1918), carrier-grade NAT, link-local (the cloud metadata address
// 169.254.169.254 among them), unique-local IPv6 (fd00:ec2::254 among them), multicast, reserved and
// unspecified addresses, over IPv4, IPv6 and IPv4-mapped IPv6, unless private addresses are allowed.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Only addresses of these ranges are public (ipaddr.js's names). */
const PUBLIC_RANGES = new Set(['unicast']);

/** Whether the address is one a webhook may reach without GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return PUBLIC_RANGES.has(parsed.range());
}

export class RefusedAddressError extends Error {
  readonly code = 'WEBHOOK_ADDRESS_REFUSED';
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, a private, loopback or link-local address: refused (GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE is off)`);
  }
}

/** The host of a URL as a socket takes it: an IPv6 literal without its brackets. */
export const socketHost = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** Refuses a URL whose host is itself a refused address (a socket does not look a literal up). */
export function checkLiteralHost(url: URL, allowPrivate: boolean): void {
  const host = socketHost(url);
  if (!allowPrivate && isIP(host) !== 0 && !isPublicAddress(host)) throw new RefusedAddressError(host, host);
}

/** A socket's lookup that fails when any address the name resolves to is refused. */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...(options as LookupAllOptions), all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const refused = allowPrivate ? undefined : addresses.find(({ address }) => !isPublicAddress(address));
      if (refused) return callback(Object.assign(new RefusedAddressError(hostname, refused.address), { errno: undefined }), '', 0);
      if ((options as LookupAllOptions).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      return callback(null, first.address, first.family);
    });
  };
}
