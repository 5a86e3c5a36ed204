import 'server-only';
import { randomUUID } from 'node:crypto';
import type { Collection, Filter } from 'mongodb';
import { decodeTimeCursor, pageOf } from '../shared/cursor';
import type {
  Alert,
  AlertDefaultRule,
  AlertingJob,
  AlertListQuery,
  AlertOutcome,
  AlertStore,
  NewAlert,
  Page,
  Run,
  ThrottleGrant,
} from '../types';
import { and, type MongoDatabase } from './database';
import { toRun } from './documents';
import { ALERT_CHANNEL_DAYS, ALERT_SETTINGS, ALERT_THROTTLES, ALERTS, DUPLICATE_KEY, mongoCode } from './schema';

// Alerts on MongoDB: the outbox collection `alerts` (unique { eventKey, channelId }), claimed with findOneAndUpdate and a
// lease; alert_throttles and alert_channel_days are compare-and-set documents; alert_settings holds the default rules and
// the scan's watermark in one document.

type AlertDoc = Omit<Alert, 'id'> & { _id: string };
interface ThrottleDoc {
  _id: string;
  windowEnds: Date;
  holder: string;
  suppressed: number;
}
interface ChannelDayDoc {
  _id: string;
  count: number;
}
interface SettingsDoc {
  _id: string;
  rules?: AlertDefaultRule[];
  watermark?: Date | null;
}

const SETTINGS_ID = 'global';

function toAlert(doc: AlertDoc): Alert {
  const { _id, ...rest } = doc;
  return { id: _id, ...rest };
}

export function mongoAlerts(db: MongoDatabase): AlertStore {
  const alerts: Collection<AlertDoc> = db.mongo.collection<AlertDoc>(ALERTS);
  const throttles = db.mongo.collection<ThrottleDoc>(ALERT_THROTTLES);
  const days = db.mongo.collection<ChannelDayDoc>(ALERT_CHANNEL_DAYS);
  const settings = db.mongo.collection<SettingsDoc>(ALERT_SETTINGS);
  const held = (id: string, owner: string): Filter<AlertDoc> => ({ _id: id, leaseOwner: owner, status: 'pending' });

  return {
    async insertAlerts(list: NewAlert[]): Promise<number> {
      if (list.length === 0) return 0;
      const now = await db.now();
      const docs: AlertDoc[] = list.map((a) => ({
        _id: randomUUID(),
        ...a,
        status: 'pending',
        attempts: 0,
        lastError: null,
        nextAttemptAt: now,
        leaseOwner: null,
        leaseExpiresAt: null,
        admitted: false,
        suppressedCount: 0,
        createdAt: now,
        sentAt: null,
      }));
      // One insert per row (a scan writes few: each instance skips the events it wrote before). Not insertMany: with
      // ordered: false the test server counts refused duplicates as inserted, and the count must be the truth.
      let inserted = 0;
      for (const doc of docs) {
        try {
          await alerts.insertOne(doc);
          inserted++;
        } catch (err) {
          // The unique { eventKey, channelId }: another detector wrote this alert first.
          if (mongoCode(err) !== DUPLICATE_KEY) throw err;
        }
      }
      return inserted;
    },

    async claimAlert(owner: string, leaseMs: number): Promise<Alert | null> {
      const now = await db.now();
      const doc = await alerts.findOneAndUpdate(
        { status: 'pending', nextAttemptAt: { $lte: now }, $or: [{ leaseExpiresAt: null }, { leaseExpiresAt: { $lte: now } }] },
        { $set: { leaseOwner: owner, leaseExpiresAt: new Date(now.getTime() + leaseMs) } },
        { sort: { nextAttemptAt: 1, _id: 1 }, returnDocument: 'after' },
      );
      return doc ? toAlert(doc) : null;
    },

    async admitAlert(id: string, owner: string, suppressedCount: number): Promise<boolean> {
      const now = await db.now();
      const { matchedCount } = await alerts.updateOne(
        { ...held(id, owner), leaseExpiresAt: { $gt: now } },
        { $set: { admitted: true, suppressedCount } },
      );
      return matchedCount === 1;
    },

    async finishAlert(id: string, owner: string, outcome: AlertOutcome): Promise<boolean> {
      const now = await db.now();
      const release = { leaseOwner: null, leaseExpiresAt: null };
      let update;
      if (outcome.status === 'sent') {
        update = { $set: { ...release, status: 'sent' as const, sentAt: now, lastError: null }, $inc: { attempts: 1 } };
      } else if (outcome.status === 'suppressed') {
        update = { $set: { ...release, status: 'suppressed' as const, lastError: outcome.reason } };
      } else {
        update = {
          $set: {
            ...release,
            status: outcome.retryAt ? ('pending' as const) : ('failed' as const),
            lastError: outcome.error.slice(0, 2_000),
            ...(outcome.retryAt ? { nextAttemptAt: outcome.retryAt } : {}),
          },
          $inc: { attempts: 1 },
        };
      }
      const { matchedCount } = await alerts.updateOne(held(id, owner), update);
      return matchedCount === 1;
    },

    async takeAlertThrottle(ruleKey: string, jobKey: string, windowSeconds: number, alertId: string): Promise<ThrottleGrant> {
      const _id = JSON.stringify([ruleKey, jobKey]);
      for (let round = 0; round < 10; round++) {
        const now = await db.now();
        const ends = new Date(now.getTime() + windowSeconds * 1000);
        // This alert's own window (its first admission was cut short): granted again, nothing counted twice.
        if (await throttles.findOne({ _id, holder: alertId })) return { granted: true, suppressed: 0 };
        // A window that is over: open a new one (findAndModify is atomic on the document: one of several takers wins).
        const before = await throttles.findOneAndUpdate(
          { _id, windowEnds: { $lte: now } },
          { $set: { windowEnds: ends, holder: alertId, suppressed: 0 } },
          { returnDocument: 'before' },
        );
        if (before) return { granted: true, suppressed: before.suppressed };
        try {
          await throttles.insertOne({ _id, windowEnds: ends, holder: alertId, suppressed: 0 });
          return { granted: true, suppressed: 0 };
        } catch (err) {
          if (mongoCode(err) !== DUPLICATE_KEY) throw err;
        }
        // A live window: held back, counted.
        const { matchedCount } = await throttles.updateOne({ _id, windowEnds: { $gt: now } }, { $inc: { suppressed: 1 } });
        if (matchedCount === 1) return { granted: false };
        // The window ended between our writes: take again.
      }
      throw new Error('takeAlertThrottle: the throttle kept changing under the take');
    },

    async takeChannelDay(channelId: string, cap: number): Promise<boolean> {
      if (cap <= 0) return false;
      const now = await db.now();
      const _id = JSON.stringify([channelId, now.toISOString().slice(0, 10)]);
      try {
        // Full: the filter misses, the upsert's insert hits the existing _id (E11000): refused.
        const doc = await days.findOneAndUpdate(
          { _id, count: { $lt: cap } },
          { $inc: { count: 1 } },
          { upsert: true, returnDocument: 'after' },
        );
        return doc !== null;
      } catch (err) {
        if (mongoCode(err) === DUPLICATE_KEY) return false;
        throw err;
      }
    },

    async getAlert(id: string): Promise<Alert | null> {
      const doc = await alerts.findOne({ _id: id });
      return doc ? toAlert(doc) : null;
    },

    async listAlerts(query: AlertListQuery): Promise<Page<Alert>> {
      const clauses: Filter<AlertDoc>[] = [];
      if (query.status) clauses.push({ status: query.status });
      if (query.event) clauses.push({ event: query.event });
      if (query.jobId) clauses.push({ jobId: query.jobId });
      if (query.cursor) {
        const [at, id] = decodeTimeCursor(query.cursor);
        clauses.push({ $or: [{ createdAt: { $lt: at } }, { createdAt: at, _id: { $lt: id } }] });
      }
      const docs = await alerts
        .find(and(clauses))
        .sort({ createdAt: -1, _id: -1 })
        .limit(query.limit + 1)
        .toArray();
      return pageOf(docs.map(toAlert), query.limit, (a) => [a.createdAt.toISOString(), a.id]);
    },

    async getAlertDefaults(): Promise<AlertDefaultRule[]> {
      return (await settings.findOne({ _id: SETTINGS_ID }))?.rules ?? [];
    },

    async setAlertDefaults(rules: AlertDefaultRule[]): Promise<AlertDefaultRule[]> {
      const doc = await settings.findOneAndUpdate({ _id: SETTINGS_ID }, { $set: { rules } }, { upsert: true, returnDocument: 'after' });
      return doc?.rules ?? [];
    },

    async getAlertWatermark(): Promise<Date | null> {
      return (await settings.findOne({ _id: SETTINGS_ID }))?.watermark ?? null;
    },

    async advanceAlertWatermark(to: Date): Promise<void> {
      // $max moves it forward only; on a new document it sets it.
      try {
        await settings.updateOne({ _id: SETTINGS_ID }, { $max: { watermark: to } }, { upsert: true });
      } catch (err) {
        // Two first writers: the other created it; once more, as an update.
        if (mongoCode(err) !== DUPLICATE_KEY) throw err;
        await settings.updateOne({ _id: SETTINGS_ID }, { $max: { watermark: to } });
      }
    },

    async listAlertingJobs(filter: { tags: string[]; all: boolean }): Promise<AlertingJob[]> {
      const query = filter.all
        ? {}
        : { $or: [{ 'alerts.0': { $exists: true } }, ...(filter.tags.length ? [{ tags: { $in: filter.tags } }] : [])] };
      const docs = await db.jobs.find(query, { projection: { _id: 1, name: 1, tags: 1, alerts: 1, paused: 1, pause: 1 } }).toArray();
      return docs.map((d) => ({
        id: d._id,
        name: d.name,
        tags: d.tags ?? [],
        alerts: d.alerts ?? [],
        pause: d.paused && d.pause ? { at: d.pause.at, by: { ...d.pause.by }, note: d.pause.note } : null,
      }));
    },

    async listFinishedRunsOf(jobIds: string[], from: Date, to: Date, limit: number): Promise<Run[]> {
      if (jobIds.length === 0) return [];
      const docs = await db.runs
        .find({ jobId: { $in: jobIds }, finishedAt: { $gte: from, $lt: to } })
        .sort({ finishedAt: 1, _id: 1 })
        .limit(limit)
        .toArray();
      return docs.map(toRun);
    },

    async listRunningRunsOf(jobIds: string[], startedBefore: Date, limit: number): Promise<Run[]> {
      if (jobIds.length === 0) return [];
      const docs = await db.runs
        .find({ jobId: { $in: jobIds }, status: 'running', startedAt: { $lte: startedBefore } })
        .sort({ startedAt: 1, _id: 1 })
        .limit(limit)
        .toArray();
      return docs.map(toRun);
    },

    async previousOutcome(jobId: string, scheduledFor: Date, statuses: string[]): Promise<Run | null> {
      const doc = await db.runs
        .find({ jobId, scheduledFor: { $lt: scheduledFor }, status: { $in: statuses as Run['status'][] } })
        .sort({ scheduledFor: -1, _id: -1 })
        .limit(1)
        .next();
      return doc ? toRun(doc) : null;
    },
  };
}
