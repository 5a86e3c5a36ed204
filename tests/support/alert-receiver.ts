// A webhook receiver for alert channels, shared by the scheduler's alert tests: verifies every delivery with the
// standardwebhooks package (the channel's secret) and records it; `holdNext` keeps one delivery's response open (the
// instance delivering it can then be killed mid-delivery).
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { AlertEvent } from '../../lib/domain';
import type { Alert, Store } from '../../lib/store/types';

export interface AlertDelivery<Body> {
  /** The webhook-id: the alert's stable id. */
  id: string;
  body: Body;
}

export interface AlertReceiver<Body> {
  url: string;
  /** Verified deliveries, in arrival order (a held one is not here). */
  deliveries: AlertDelivery<Body>[];
  /** Why each refused delivery failed verification. */
  invalid: string[];
  /** Deliveries kept open by holdNext. */
  held: Array<{ id: string; res: ServerResponse }>;
  /** Keeps the next verified delivery whose id `pick` accepts open (not answered, not recorded). */
  holdNext(pick: (id: string) => boolean): void;
  close(): Promise<void>;
}

export async function startAlertReceiver<Body>(secret: string): Promise<AlertReceiver<Body>> {
  const wh = new Webhook(secret);
  const deliveries: AlertDelivery<Body>[] = [];
  const invalid: string[] = [];
  const held: Array<{ id: string; res: ServerResponse }> = [];
  let hold: ((id: string) => boolean) | null = null;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      try {
        const body = wh.verify(raw, headersOf(req.headers)) as Body;
        const id = String(req.headers['webhook-id']);
        if (hold?.(id)) {
          hold = null;
          held.push({ id, res });
          return;
        }
        deliveries.push({ id, body });
        res.writeHead(204).end();
      } catch (err) {
        invalid.push(String(err));
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    deliveries,
    invalid,
    held,
    holdNext(pick) {
      hold = pick;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const h of held) h.res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function headersOf(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
}

/** Every alert row matching the query, walking all pages. */
export async function listAllAlerts(store: Store, query: { jobId?: string; event?: AlertEvent }): Promise<Alert[]> {
  const out: Alert[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listAlerts({ ...query, limit: 200, cursor });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}
