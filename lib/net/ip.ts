// Pure address arithmetic (no Node imports): the job payload schema uses it, and that schema also
// reaches the browser bundle through the job form. DNS and sockets live in ./guard.ts.

export type IpFamily = 4 | 6;

export interface ParsedIp {
  family: IpFamily;
  /** 32 bits for IPv4, 128 bits for IPv6. */
  value: bigint;
}

/** Strict dotted quad: 4 decimal parts 0-255 without leading zeros (URL parsing already normalised other forms). */
function parseIpv4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseIpv6(input: string): bigint | null {
  let text = input;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return null;
  let tail: number[] = [];
  // An embedded dotted quad (::ffff:1.2.3.4) fills the last 32 bits.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [Number(v4 >> 16n), Number(v4 & 0xffffn)];
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const toGroups = (s: string): number[] | null => {
    if (s === '') return [];
    const groups = s.split(':');
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = toGroups(halves[0] ?? '');
  const rest = halves.length === 2 ? toGroups(halves[1] ?? '') : [];
  if (!head || !rest) return null;
  const explicit = head.length + rest.length + tail.length;
  let groups: number[];
  if (halves.length === 2) {
    if (explicit > 7) return null;
    groups = [...head, ...new Array<number>(8 - explicit).fill(0), ...rest, ...tail];
  } else {
    if (explicit !== 8) return null;
    groups = [...head, ...tail];
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

/** Parses an IPv4 or IPv6 literal ("[::1]" brackets allowed); null when it is not one. */
export function parseIp(text: string): ParsedIp | null {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const v4 = parseIpv4(bare);
  if (v4 !== null) return { family: 4, value: v4 };
  if (!bare.includes(':')) return null;
  const v6 = parseIpv6(bare);
  return v6 === null ? null : { family: 6, value: v6 };
}

export interface Cidr {
  family: IpFamily;
  base: bigint;
  prefix: number;
}

export function parseCidr(text: string): Cidr | null {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return null;
  const ip = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  const bits = ip.family === 4 ? 32 : 128;
  if (prefix > bits) return null;
  return { family: ip.family, base: ip.value >> BigInt(bits - prefix), prefix };
}

export function cidrContains(cidr: Cidr, ip: ParsedIp): boolean {
  if (cidr.family !== ip.family) return false;
  const bits = ip.family === 4 ? 32 : 128;
  return ip.value >> BigInt(bits - cidr.prefix) === cidr.base;
}

function ranges(list: Array<[string, string]>): Array<{ cidr: Cidr; label: string }> {
  return list.map(([text, label]) => ({ cidr: parseCidr(text)!, label }));
}

// Everything that is not the public internet: a job must not reach the host's or the cloud's insides.
const BLOCKED_V4 = ranges([
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'],
  ['192.0.2.0/24', 'documentation'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved or broadcast'],
]);

const BLOCKED_V6 = ranges([
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['100::/64', 'discard'],
  ['2001::/32', 'Teredo'],
  ['2001:db8::/32', 'documentation'],
  ['fc00::/7', 'private (unique local)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
]);

/** IPv6 forms that carry an IPv4 address: the IPv4 address decides. */
const EMBEDS_V4 = [
  { cidr: parseCidr('::ffff:0:0/96')!, shift: 0n }, // IPv4-mapped
  { cidr: parseCidr('::/96')!, shift: 0n }, // IPv4-compatible (deprecated)
  { cidr: parseCidr('64:ff9b::/96')!, shift: 0n }, // NAT64
  { cidr: parseCidr('64:ff9b:1::/48')!, shift: 0n }, // local-use NAT64
  { cidr: parseCidr('2002::/16')!, shift: 80n }, // 6to4
];

/** Why the address is not public ("loopback", "private", ...), or null for a public address. */
export function blockedReason(ip: ParsedIp): string | null {
  if (ip.family === 6) {
    for (const { cidr, shift } of EMBEDS_V4) {
      if (cidrContains(cidr, ip)) {
        const v4 = (ip.value >> shift) & 0xffffffffn;
        // ::/96 also holds :: and ::1, which are IPv6 addresses of their own.
        if (shift === 0n && cidr.prefix === 96 && cidr.base === 0n && v4 < 2n) break;
        const reason = blockedReason({ family: 4, value: v4 });
        return reason ? `${reason} (IPv4 inside IPv6)` : null;
      }
    }
  }
  for (const { cidr, label } of ip.family === 4 ? BLOCKED_V4 : BLOCKED_V6) if (cidrContains(cidr, ip)) return label;
  return null;
}

export function formatIp(ip: ParsedIp): string {
  if (ip.family === 4) return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 255n)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((ip.value >> s) & 0xffffn).toString(16));
  return groups.join(':');
}
