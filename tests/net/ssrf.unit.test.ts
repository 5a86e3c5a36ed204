/**
 * The SSRF guard of the http job type: address classification, the HTTP_JOB_ALLOW allow-list, the
 * form/API literal check, and real requests against local servers (redirects, size cap, timeouts).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { literalUrlProblem, parseAllowList } from '../../lib/net/allow';
import { BlockedAddressError, guardedHttpRequest, isCredentialHeader, resolveTarget, type HostLookup } from '../../lib/net/guard';
import { blockedReason, parseIp } from '../../lib/net/ip';
import { httpJob, httpPayloadSchema, RESPONSE_MAX_BYTES, USERINFO_MESSAGE } from '../../lib/jobs/http';
import { JobCreateSchema } from '../../lib/validation/job';
import { jobContext } from '../support/job-context';

const reason = (text: string): string | null => {
  const ip = parseIp(text);
  assert.ok(ip, `${text} parses`);
  return blockedReason(ip);
};

describe('address classification', () => {
  test('internal IPv4 ranges are refused', () => {
    for (const address of [
      '127.0.0.1',
      '127.255.0.9',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '0.0.0.0',
      '100.64.0.1',
      '100.127.255.255',
      '224.0.0.1',
      '255.255.255.255',
      '240.0.0.1',
    ]) {
      assert.notEqual(reason(address), null, address);
    }
  });

  test('public IPv4 addresses pass, including neighbours of the private ranges', () => {
    for (const address of [
      '8.8.8.8',
      '1.1.1.1',
      '172.15.255.255',
      '172.32.0.0',
      '100.63.255.255',
      '100.128.0.0',
      '11.0.0.1',
      '169.253.0.1',
      '192.169.0.1',
    ]) {
      assert.equal(reason(address), null, address);
    }
  });

  test('IPv6 loopback, unspecified, ULA, link-local, multicast and IPv4 inside IPv6 are refused', () => {
    for (const address of [
      '::1',
      '::',
      'fc00::1',
      'fd12:3456::1',
      'fe80::1',
      'febf::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      '::ffff:10.0.0.1',
      '64:ff9b::a9fe:a9fe',
      '2002:7f00:1::1',
      '::127.0.0.1',
      '[::1]',
    ]) {
      assert.notEqual(reason(address), null, address);
    }
  });

  test('public IPv6 passes, and a mapped public IPv4 passes', () => {
    for (const address of ['2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8']) {
      assert.equal(reason(address), null, address);
    }
  });

  test('garbage is not an address', () => {
    for (const text of ['', '1.2.3', '256.1.1.1', '01.2.3.4', '1::2::3', 'example.com', '::g', '1.2.3.4.5'])
      assert.equal(parseIp(text), null, text);
  });
});

describe('allow-list and the literal check at the API/form boundary', () => {
  test('HTTP_JOB_ALLOW entries: host, host:port, IP, CIDR; invalid ones are reported', () => {
    const list = parseAllowList('internal.example, 127.0.0.1:8080, 10.0.0.0/8, fd00::/8, [::1]:9000, bad host, x:99999');
    assert.deepEqual(list.invalid, ['bad host', 'x:99999']);
    assert.equal(literalUrlProblem('http://127.0.0.1:8080/x', list), null);
    assert.match(literalUrlProblem('http://127.0.0.1:8081/x', list) ?? '', /loopback.*HTTP_JOB_ALLOW/);
    assert.equal(literalUrlProblem('http://10.9.8.7/', list), null);
    assert.equal(literalUrlProblem('http://[fd00::5]/', list), null);
    assert.equal(literalUrlProblem('http://[::1]:9000/', list), null);
    assert.notEqual(literalUrlProblem('http://[::1]:9001/', list), null);
    assert.notEqual(literalUrlProblem('http://192.168.0.1/', list), null);
  });

  test('literal internal addresses and localhost are refused without an allow-list; names pass (checked after DNS)', () => {
    const none = parseAllowList('');
    for (const url of [
      'http://127.0.0.1/',
      'http://0x7f.1/',
      'http://2130706433/',
      'http://[::ffff:127.0.0.1]/',
      'http://169.254.169.254/latest/meta-data/',
      'https://localhost:3000/',
      'http://a.localhost/',
      'http://[fe80::1]/',
    ]) {
      assert.notEqual(literalUrlProblem(url, none), null, url);
    }
    assert.equal(literalUrlProblem('https://example.com/health', none), null);
    assert.equal(literalUrlProblem('http://8.8.8.8/', none), null);
  });

  test('the payload schema reports it on payload field url, honouring HTTP_JOB_ALLOW', () => {
    const saved = process.env.HTTP_JOB_ALLOW;
    try {
      delete process.env.HTTP_JOB_ALLOW;
      const refused = httpPayloadSchema.safeParse({ url: 'http://169.254.169.254/latest/meta-data/' });
      assert.equal(refused.success, false);
      assert.deepEqual(
        refused.error?.issues.map((i) => i.path.join('.')),
        ['url'],
      );
      assert.match(refused.error?.issues[0]?.message ?? '', /link-local address \(169\.254\.169\.254\)/);
      process.env.HTTP_JOB_ALLOW = '169.254.169.254';
      assert.equal(httpPayloadSchema.safeParse({ url: 'http://169.254.169.254/latest/meta-data/' }).success, true);
    } finally {
      if (saved === undefined) delete process.env.HTTP_JOB_ALLOW;
      else process.env.HTTP_JOB_ALLOW = saved;
    }
  });
});

let server: Server;
let other: Server;
let base: string;
let otherBase: string;
let port: number;
const seen: Array<{ url: string; authorization: string | undefined; method: string; headers: IncomingMessage['headers'] }> = [];

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const s = createServer(handler);
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

before(async () => {
  server = await listen((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization, method: req.method ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', 'http://x');
    const hops = Number(url.searchParams.get('n') ?? '0');
    if (url.pathname === '/ok') res.writeHead(200, { 'content-type': 'text/plain' }).end('pong');
    else if (url.pathname === '/chain') res.writeHead(302, { location: hops > 0 ? `/chain?n=${hops - 1}` : '/ok' }).end();
    else if (url.pathname === '/post-redirect') res.writeHead(303, { location: '/ok' }).end();
    else if (url.pathname === '/to-other') res.writeHead(307, { location: `${otherBase}/ok` }).end();
    else if (url.pathname === '/to-metadata') res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    else if (url.pathname === '/to-file') res.writeHead(302, { location: 'file:///etc/passwd' }).end();
    else if (url.pathname === '/to-name') res.writeHead(302, { location: `http://${url.searchParams.get('host')}:${port}/ok` }).end();
    else if (url.pathname === '/same-origin') res.writeHead(307, { location: '/ok' }).end();
    else if (url.pathname === '/huge') {
      // Far more than the cap, written as fast as the socket takes it; the client must stop early.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = 'x'.repeat(64 * 1024);
      let sent = 0;
      const write = (): void => {
        while (sent < 400) {
          sent += 1;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        res.end();
      };
      res.on('error', () => undefined);
      write();
    } else if (url.pathname === '/slow') {
      const timer = setTimeout(() => res.writeHead(200).end('late'), 5_000);
      res.on('close', () => clearTimeout(timer));
    } else if (url.pathname === '/echo-auth')
      res.writeHead(401, { 'content-type': 'text/plain' }).end(`bad credentials: ${req.headers.authorization ?? ''}`);
    else res.writeHead(404).end();
  });
  other = await listen((req, res) => {
    seen.push({ url: `other${req.url ?? ''}`, authorization: req.headers.authorization, method: req.method ?? '', headers: req.headers });
    res.writeHead(200).end('other');
  });
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  otherBase = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
});

after(async () => {
  for (const s of [server, other]) {
    s?.closeAllConnections();
    await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }
});

function request(url: string, allow: string, extra: Partial<Parameters<typeof guardedHttpRequest>[0]> = {}) {
  return guardedHttpRequest({
    method: 'GET',
    url,
    headers: {},
    signal: AbortSignal.timeout(10_000),
    maxRedirects: 5,
    maxBytes: RESPONSE_MAX_BYTES,
    followRedirects: true,
    allowList: parseAllowList(allow),
    ...extra,
  });
}

describe('guarded requests', () => {
  test('a loopback target is refused before any connection, and reached when allow-listed', async () => {
    const before = seen.length;
    await assert.rejects(request(`${base}/ok`, ''), BlockedAddressError);
    await assert.rejects(request(`http://localhost:${port}/ok`, ''), /loopback/);
    assert.equal(seen.length, before, 'no request reached the server');
    const ok = await request(`${base}/ok`, `127.0.0.1:${port}`);
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'pong');
  });

  test('a name is resolved and every address checked: localhost allowed by name connects to the checked address', async () => {
    await assert.rejects(resolveTarget(new URL(`http://localhost:${port}/`), parseAllowList('')), BlockedAddressError);
    const target = await resolveTarget(new URL(`http://localhost:${port}/`), parseAllowList(`localhost:${port}`));
    assert.notEqual(blockedReason(parseIp(target.address)!), null);
    const ok = await request(`http://localhost:${port}/ok`, `localhost:${port}`);
    assert.equal(ok.status, 200);
  });

  test('redirects are followed by hand (at most 5), each hop checked again', async () => {
    const five = await request(`${base}/chain?n=4`, `127.0.0.1:${port}`);
    assert.equal(five.status, 200);
    assert.equal(five.redirects, 5);
    await assert.rejects(request(`${base}/chain?n=5`, `127.0.0.1:${port}`), /too many redirects/);
    // The first hop is allowed, the redirect target (another port, the metadata address, file:) is not.
    const before = seen.length;
    await assert.rejects(request(`${base}/to-other`, `127.0.0.1:${port}`), BlockedAddressError);
    assert.equal(
      seen.slice(before).some((s) => s.url.startsWith('other')),
      false,
      'the other server was never called',
    );
    await assert.rejects(request(`${base}/to-metadata`, `127.0.0.1:${port}`), /link-local/);
    await assert.rejects(request(`${base}/to-file`, `127.0.0.1:${port}`), /file: URL/);
  });

  test('only allow-listed headers follow a redirect to another origin (credentials never); 303 turns a POST into a GET', async () => {
    const secret = {
      Authorization: 'Bearer s3cret-token',
      'Proxy-Authorization': 'Basic cHJveHk6cHc=',
      Cookie: 'sid=s3cret',
      'X-Api-Key': 'k-s3cret',
      'Api-Key': 'k2-s3cret',
      'X-Auth-Token': 't-s3cret',
      'X-Client-Secret': 'c-s3cret',
      'X-Session-Id': 'sess-s3cret',
      'X-Hub-Signature': 'sha256=s3cret',
      'X-Password': 'p-s3cret',
      // Missed by the old name rule (issue #13, finding 5).
      'X-Auth-Key': 'ak-s3cret',
      Authentication: 'an-s3cret',
      'X-Access-Key': 'acc-s3cret',
      'X-Private-Key': 'pk-s3cret',
      'X-Credentials': 'cr-s3cret',
    };
    // Not credentials by name, but not allow-listed either: they stay within the origin too.
    const custom = { 'X-Trace-Id': 'trace-1', 'X-Tenant': 'acme' };
    const plain = { Accept: 'text/plain', 'Cronplane-Attempt': '1', 'User-Agent': 'cronplane-test' };
    for (const name of Object.keys(secret)) assert.equal(isCredentialHeader(name), true, name);
    for (const name of Object.keys({ ...custom, ...plain })) assert.equal(isCredentialHeader(name), false, name);
    const lower = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));

    const before = seen.length;
    const answer = await request(`${base}/to-other`, '127.0.0.1', { headers: { ...secret, ...custom, ...plain } });
    assert.equal(answer.body, 'other');
    const hops = seen.slice(before);
    assert.equal(hops.length, 2);
    for (const [name, value] of Object.entries(lower({ ...secret, ...custom, ...plain })))
      assert.equal(hops[0]?.headers[name], value, `first hop has ${name}`);
    for (const name of Object.keys(lower({ ...secret, ...custom })))
      assert.equal(hops[1]?.headers[name], undefined, `${name} dropped on the cross-origin hop`);
    for (const [name, value] of Object.entries(lower(plain))) assert.equal(hops[1]?.headers[name], value, `${name} kept`);

    // Within the origin they stay.
    const same = seen.length;
    assert.equal((await request(`${base}/same-origin`, '127.0.0.1', { headers: secret })).body, 'pong');
    for (const [name, value] of Object.entries(lower(secret)))
      assert.equal(seen[same + 1]?.headers[name], value, `${name} kept on a same-origin hop`);

    const post = await request(`${base}/post-redirect`, '127.0.0.1', { method: 'POST', body: '{}' });
    assert.equal(post.status, 200);
    assert.equal(seen.at(-1)?.method, 'GET');
  });

  test('the body is read up to the cap only, and the excerpt is kept', async () => {
    const started = Date.now();
    const answer = await request(`${base}/huge`, '127.0.0.1');
    assert.equal(answer.truncated, true);
    assert.equal(answer.body.length, RESPONSE_MAX_BYTES);
    assert.ok(Date.now() - started < 5_000);
  });

  test('the http job: a blocked target fails the run, an allowed one records status and excerpt, a slow one times out', async () => {
    const { ctx, lines } = jobContext();
    const saved = process.env.HTTP_JOB_ALLOW;
    try {
      process.env.HTTP_JOB_ALLOW = '';
      // The payload schema would refuse the literal; the handler must refuse it on its own too.
      await assert.rejects(httpJob.run({ method: 'GET', url: `${base}/ok`, headers: {}, timeoutSeconds: 5 }, ctx), /refused 127\.0\.0\.1/);
      process.env.HTTP_JOB_ALLOW = '127.0.0.1';
      await httpJob.run({ method: 'GET', url: `${base}/chain?n=1`, headers: {}, timeoutSeconds: 5 }, ctx);
      assert.match(lines.join('\n'), /-> 200 OK \(after 2 redirects to .*\/ok\)/);
      assert.equal(lines.at(-1), 'pong');
      const started = Date.now();
      await assert.rejects(
        httpJob.run({ method: 'GET', url: `${base}/slow`, headers: {}, timeoutSeconds: 1 }, ctx),
        /no response within 1s/,
      );
      assert.ok(Date.now() - started < 3_000);
    } finally {
      if (saved === undefined) delete process.env.HTTP_JOB_ALLOW;
      else process.env.HTTP_JOB_ALLOW = saved;
    }
  });
});

describe('after DNS: every address a name resolves to is checked (lookup injected)', () => {
  /** A resolver that answers from a table, and records what it was asked. */
  function fakeDns(table: Record<string, string[]>): HostLookup & { asked: string[] } {
    const asked: string[] = [];
    const lookup = async (host: string) => {
      asked.push(host);
      const addresses = table[host];
      if (!addresses) throw Object.assign(new Error(`no such host ${host}`), { code: 'ENOTFOUND' });
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };
    return Object.assign(lookup, { asked });
  }
  const dns = fakeDns({
    'private.test': ['10.1.2.3'],
    'metadata.test': ['169.254.169.254'],
    'mixed.test': ['93.184.216.34', '10.0.0.7'],
    'mixed6.test': ['2606:4700:4700::1111', 'fd00::5'],
    'mapped.test': ['::ffff:127.0.0.1'],
    'public.test': ['93.184.216.34', '2606:4700:4700::1111'],
    'internal.test': ['10.20.0.5'],
    'loop.test': ['127.0.0.1'],
  });
  const none = parseAllowList('');

  test('a name resolving to a private, link-local (metadata) or mapped-loopback address is refused', async () => {
    await assert.rejects(
      resolveTarget(new URL('http://private.test/'), none, dns),
      (err: unknown) => err instanceof BlockedAddressError && /private.test \(10\.1\.2\.3\): private/.test(err.message),
    );
    await assert.rejects(
      resolveTarget(new URL('http://metadata.test/latest/meta-data/'), none, dns),
      (err: unknown) => err instanceof BlockedAddressError && /169\.254\.169\.254.*link-local/.test(err.message),
    );
    await assert.rejects(resolveTarget(new URL('http://mapped.test/'), none, dns), BlockedAddressError);
    assert.ok(dns.asked.includes('private.test') && dns.asked.includes('metadata.test'), 'the names went through the injected lookup');
  });

  test('a mix of public and private answers is refused (every address must pass)', async () => {
    await assert.rejects(resolveTarget(new URL('https://mixed.test/'), none, dns), /mixed\.test \(10\.0\.0\.7\): private/);
    await assert.rejects(resolveTarget(new URL('https://mixed6.test/'), none, dns), /fd00::5/);
  });

  test('public answers pass (the first is the one connected to); an allow-listed name or range passes', async () => {
    assert.deepEqual(await resolveTarget(new URL('https://public.test/'), none, dns), { address: '93.184.216.34', family: 4 });
    assert.deepEqual(await resolveTarget(new URL('http://internal.test/'), parseAllowList('internal.test'), dns), {
      address: '10.20.0.5',
      family: 4,
    });
    assert.deepEqual(await resolveTarget(new URL('http://internal.test/'), parseAllowList('10.20.0.0/16'), dns), {
      address: '10.20.0.5',
      family: 4,
    });
    // The entry allows that name or range only.
    await assert.rejects(
      resolveTarget(new URL('http://private.test/'), parseAllowList('internal.test, 10.20.0.0/16'), dns),
      BlockedAddressError,
    );
    await assert.rejects(
      resolveTarget(new URL('http://internal.test:8080/'), parseAllowList('internal.test:9090'), dns),
      BlockedAddressError,
    );
  });

  test('a redirect to a name resolving to a private or metadata address is refused before connecting', async () => {
    const allow = `127.0.0.1:${port}`;
    for (const host of ['private.test', 'metadata.test', 'mixed.test']) {
      const before = seen.length;
      await assert.rejects(request(`${base}/to-name?host=${host}`, allow, { lookup: dns }), BlockedAddressError, host);
      assert.deepEqual(
        seen.slice(before).map((s) => s.url),
        [`/to-name?host=${host}`],
        `only the first hop was made for ${host}`,
      );
    }
  });

  test('a redirect to an allow-listed name connects to exactly the address the lookup gave', async () => {
    const before = seen.length;
    const answer = await request(`${base}/to-name?host=loop.test`, `127.0.0.1:${port}`, { lookup: dns });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'pong');
    assert.equal(answer.url, `http://loop.test:${port}/ok`);
    assert.equal(seen.at(-1)?.headers.host, `loop.test:${port}`, 'the Host header keeps the name');
    assert.equal(seen.length - before, 2);
  });
});

describe('credentials in the URL (userinfo)', () => {
  test('refused on payload field url, with a message pointing to a secret header', () => {
    for (const url of [
      'https://user:pass@example.com/',
      'https://user@example.com/x',
      'http://:token@example.com/',
      'https://a%40b:p%3Ass@example.com/',
    ]) {
      const result = httpPayloadSchema.safeParse({ url });
      assert.equal(result.success, false, url);
      assert.deepEqual(
        result.error?.issues.map((i) => [i.path.join('.'), i.message]),
        [['url', USERINFO_MESSAGE]],
        url,
      );
    }
    assert.match(USERINFO_MESSAGE, /Authorization/);
    assert.equal(
      httpPayloadSchema.safeParse({ url: 'https://example.com/a@b?x=user:pass@y' }).success,
      true,
      'an @ in the path or query is not userinfo',
    );
    const job = JobCreateSchema.safeParse({
      name: 'u',
      type: 'http',
      payload: { url: 'https://user:pass@example.com/' },
      schedule: { kind: 'interval', seconds: 60 },
    });
    assert.deepEqual(
      job.error?.issues.map((i) => i.path.join('.')),
      ['payload.url'],
    );
  });

  test('a job saved before that keeps them out of its run output', async () => {
    const { ctx, lines } = jobContext();
    const saved = process.env.HTTP_JOB_ALLOW;
    try {
      process.env.HTTP_JOB_ALLOW = '127.0.0.1';
      await httpJob.run({ method: 'GET', url: `http://olduser:oldpass@127.0.0.1:${port}/ok`, headers: {}, timeoutSeconds: 5 }, ctx);
      assert.match(lines.join('\n'), new RegExp(`GET http://127\\.0\\.0\\.1:${port}/ok -> 200`));
      assert.doesNotMatch(lines.join('\n'), /olduser|oldpass/);
    } finally {
      if (saved === undefined) delete process.env.HTTP_JOB_ALLOW;
      else process.env.HTTP_JOB_ALLOW = saved;
    }
  });
});
