import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalTarget {
  /** http://127.0.0.1:<port>, no trailing slash. */
  base: string;
  close(): Promise<void>;
}

/**
 * A local HTTP server for the http job to call: HTTP_JOB_ALLOW opens 127.0.0.1 (the SSRF guard refuses it otherwise)
 * until close() puts the previous value back.
 */
export async function startLocalTarget(handler: RequestListener): Promise<LocalTarget> {
  const savedAllow = process.env.HTTP_JOB_ALLOW;
  process.env.HTTP_JOB_ALLOW = '127.0.0.1';
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      if (savedAllow === undefined) delete process.env.HTTP_JOB_ALLOW;
      else process.env.HTTP_JOB_ALLOW = savedAllow;
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
