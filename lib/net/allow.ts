// The HTTP_JOB_ALLOW allow-list and the literal-address check of the job form/API (pure: no Node
// imports, see ./ip.ts). The connection-time check with DNS is in ./guard.ts.
import { blockedReason, cidrContains, parseCidr, parseIp, type Cidr, type ParsedIp } from './ip';

export type AllowEntry = { kind: 'cidr'; cidr: Cidr } | { kind: 'host'; host: string; port: number | null };

export interface AllowList {
  entries: AllowEntry[];
  /** Entries that could not be read, so start-up or a test can say so. */
  invalid: string[];
}

/**
 * HTTP_JOB_ALLOW: comma-separated `host`, `host:port`, `[v6]:port`, IP or CIDR ("10.0.0.0/8", "fd00::/8").
 * A host name entry allows whatever that name resolves to; an IP entry allows that address.
 */
export function parseAllowList(text: string | undefined): AllowList {
  const entries: AllowEntry[] = [];
  const invalid: string[] = [];
  for (const raw of (text ?? '').split(',')) {
    const item = raw.trim().toLowerCase();
    if (!item) continue;
    const cidr = item.includes('/') ? parseCidr(item) : null;
    if (cidr) {
      entries.push({ kind: 'cidr', cidr });
      continue;
    }
    const ip = parseIp(item);
    if (ip) {
      entries.push({ kind: 'cidr', cidr: parseCidr(`${item.replace(/^\[|\]$/g, '')}/${ip.family === 4 ? 32 : 128}`)! });
      continue;
    }
    const match = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/.exec(item);
    const port = match?.[2] === undefined ? null : Number(match[2]);
    if (!match?.[1] || (port !== null && (port < 1 || port > 65535))) {
      invalid.push(raw.trim());
      continue;
    }
    entries.push({ kind: 'host', host: match[1].replace(/^\[|\]$/g, '').replace(/\.$/, ''), port });
  }
  return { entries, invalid };
}

export function allowListFromEnv(): AllowList {
  return parseAllowList(typeof process === 'undefined' ? undefined : process.env.HTTP_JOB_ALLOW);
}

/** True when the allow-list lets a request go to `host`:`port` at address `ip`. */
export function isAllowed(list: AllowList, host: string, port: number, ip: ParsedIp | null): boolean {
  const name = host
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  return list.entries.some((entry) => {
    if (entry.kind === 'cidr') return ip !== null && cidrContains(entry.cidr, ip);
    if (entry.port !== null && entry.port !== port) return false;
    if (entry.host === name) return true;
    // "127.0.0.1:8080" style entries also match the address a name resolved to.
    const entryIp = parseIp(entry.host);
    return entryIp !== null && ip !== null && entryIp.family === ip.family && entryIp.value === ip.value;
  });
}

export function defaultPort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** Names that mean this machine whatever DNS says. */
function isLocalName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || name === 'localhost.localdomain';
}

/**
 * The form/API check: a URL whose host is a blocked literal address (or "localhost") is refused
 * unless allow-listed. Returns the message, or null when the URL may be saved. Names are checked
 * again at run time, after DNS.
 */
export function literalUrlProblem(urlText: string, list: AllowList = allowListFromEnv()): string | null {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    return null; // the url format check reports it
  }
  const host = url.hostname;
  const port = defaultPort(url);
  const ip = parseIp(host);
  const reason = ip ? blockedReason(ip) : isLocalName(host) ? 'loopback' : null;
  if (!reason || isAllowed(list, host, port, ip)) return null;
  return `url points to a ${reason} address (${host}); such addresses are refused unless HTTP_JOB_ALLOW lists them`;
}

export { isLocalName };
