import 'server-only';
import { NameTakenError, type Channel, type ChannelPatch, type ChannelStore, type JsonObject, type NewChannel } from '../types';
import { byCodePoint } from '../shared/text';
import { insertStamped, orTaken, type MongoDatabase } from './database';
import type { ChannelDoc } from './schema';

// Alert channels on MongoDB: alert_channels, one document per channel; the name is unique (alert_channels_name_key).
// config is stored as JSON text, as job payloads are: its values are the caller's, and JSON text round-trips exactly.

function toChannel(doc: ChannelDoc): Channel {
  return {
    id: doc._id,
    name: doc.name,
    type: doc.type,
    config: JSON.parse(doc.configJson) as JsonObject,
    signingSecret: doc.signingSecret ?? null,
    dailyCap: doc.dailyCap ?? null,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

export function mongoChannels(db: MongoDatabase): ChannelStore {
  return {
    async createChannel(channel: NewChannel): Promise<Channel> {
      const insert = insertStamped(
        db.channels,
        {
          name: channel.name,
          type: channel.type,
          configJson: JSON.stringify(channel.config),
          signingSecret: channel.signingSecret,
          dailyCap: channel.dailyCap,
        },
        'createChannel',
      );
      return toChannel(await orTaken(insert, () => new NameTakenError(channel.name)));
    },

    async getChannel(id: string): Promise<Channel | null> {
      const doc = await db.channels.findOne({ _id: id });
      return doc ? toChannel(doc) : null;
    },

    async listChannels(): Promise<Channel[]> {
      // A deployment has a handful: sorted here by code points (then id), as PostgreSQL's COLLATE "C".
      const docs = await db.channels.find({}).toArray();
      return docs.map(toChannel).sort((a, b) => byCodePoint(a.name, b.name) || byCodePoint(a.id, b.id));
    },

    async updateChannel(id: string, patch: ChannelPatch): Promise<Channel | null> {
      const set: Partial<ChannelDoc> = {};
      if (patch.name !== undefined) set.name = patch.name;
      if (patch.config !== undefined) set.configJson = JSON.stringify(patch.config);
      if (patch.signingSecret !== undefined) set.signingSecret = patch.signingSecret;
      if (patch.dailyCap !== undefined) set.dailyCap = patch.dailyCap;
      const doc = await orTaken(
        db.channels.findOneAndUpdate({ _id: id }, { $set: set, $currentDate: { updatedAt: true } }, { returnDocument: 'after' }),
        () => new NameTakenError(patch.name ?? ''),
      );
      return doc ? toChannel(doc) : null;
    },

    async deleteChannel(id: string): Promise<boolean> {
      const { deletedCount } = await db.channels.deleteOne({ _id: id });
      return deletedCount === 1;
    },

    async listJobsUsingChannel(channelId: string): Promise<Array<{ id: string; name: string }>> {
      const docs = await db.jobs.find({ 'alerts.channelId': channelId }, { projection: { _id: 1, name: 1 } }).toArray();
      return docs.map((d) => ({ id: d._id, name: d.name })).sort((a, b) => byCodePoint(a.name, b.name) || byCodePoint(a.id, b.id));
    },
  };
}
