import 'server-only';
import { type Prisma } from '../../generated/prisma/client';
import { isUuid } from '../shared/cursor';
import {
  NameTakenError,
  type Channel,
  type ChannelPatch,
  type ChannelStore,
  type ChannelType,
  type JsonObject,
  type NewChannel,
} from '../types';
import { isPrismaError, type PgDatabase } from './database';
import { toDate } from './rows';

// Alert channels on PostgreSQL: alert_channels, one row per channel; the name is unique (alert_channels_name_key).
// Prisma model queries: channels are read when an alert is sent or a page is shown, not per occurrence.

type ChannelRow = Prisma.AlertChannelModel;

function toChannel(row: ChannelRow): Channel {
  return {
    id: row.id,
    name: row.name,
    type: row.type as ChannelType,
    config: (row.config ?? {}) as JsonObject,
    signingSecret: row.signingSecret,
    dailyCap: row.dailyCap,
    createdAt: toDate(row.createdAt)!,
    updatedAt: toDate(row.updatedAt)!,
  };
}

export function postgresChannels(db: PgDatabase): ChannelStore {
  return {
    async createChannel(channel: NewChannel): Promise<Channel> {
      try {
        const row = await db.prisma.alertChannel.create({
          data: {
            name: channel.name,
            type: channel.type,
            config: channel.config as Prisma.InputJsonObject,
            signingSecret: channel.signingSecret,
            dailyCap: channel.dailyCap,
          },
        });
        return toChannel(row);
      } catch (err) {
        if (isPrismaError(err, 'P2002')) throw new NameTakenError(channel.name);
        throw err;
      }
    },

    async getChannel(id: string): Promise<Channel | null> {
      if (!isUuid(id)) return null;
      const row = await db.prisma.alertChannel.findUnique({ where: { id } });
      return row ? toChannel(row) : null;
    },

    async listChannels(): Promise<Channel[]> {
      // Code point order of names (COLLATE "C"), as jobs are listed; Prisma's orderBy would use the database's collation.
      const rows = await db.prisma.$queryRaw<ChannelRow[]>`
        SELECT id, name, type, config, signing_secret AS "signingSecret", daily_cap AS "dailyCap",
               created_at AS "createdAt", updated_at AS "updatedAt"
        FROM alert_channels ORDER BY name COLLATE "C", id`;
      return rows.map(toChannel);
    },

    async updateChannel(id: string, patch: ChannelPatch): Promise<Channel | null> {
      if (!isUuid(id)) return null;
      const data: Prisma.AlertChannelUpdateInput = {};
      if (patch.name !== undefined) data.name = patch.name;
      if (patch.config !== undefined) data.config = patch.config as Prisma.InputJsonObject;
      if (patch.signingSecret !== undefined) data.signingSecret = patch.signingSecret;
      if (patch.dailyCap !== undefined) data.dailyCap = patch.dailyCap;
      try {
        return toChannel(await db.prisma.alertChannel.update({ where: { id }, data }));
      } catch (err) {
        if (isPrismaError(err, 'P2025')) return null;
        if (isPrismaError(err, 'P2002')) throw new NameTakenError(patch.name ?? '');
        throw err;
      }
    },

    async deleteChannel(id: string): Promise<boolean> {
      if (!isUuid(id)) return false;
      const { count } = await db.prisma.alertChannel.deleteMany({ where: { id } });
      return count > 0;
    },

    async listJobsUsingChannel(channelId: string): Promise<Array<{ id: string; name: string }>> {
      if (!isUuid(channelId)) return [];
      // jsonb containment: some element of alerts has this channelId (jobs with no rules hold '[]' and never match).
      return db.prisma.$queryRaw<Array<{ id: string; name: string }>>`
        SELECT id::text AS id, name FROM jobs
        WHERE alerts @> jsonb_build_array(jsonb_build_object('channelId', ${channelId}::text))
        ORDER BY name COLLATE "C", id`;
    },
  };
}
