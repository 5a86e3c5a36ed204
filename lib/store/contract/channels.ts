// Alert channels: where alerts go (a signed webhook, a Slack incoming webhook, e-mail over SMTP). Secrets in `config`
// (webhook URLs with tokens, SMTP passwords) and the webhook signing secret are stored encrypted (lib/secrets).
import type { ChannelType } from '../../domain';
import type { JsonObject } from './database';

export type { ChannelType } from '../../domain';

export interface Channel {
  id: string;
  /** Unique, as job names are. */
  name: string;
  type: ChannelType;
  /** Per type (lib/validation/channel.ts); secret fields encrypted. */
  config: JsonObject;
  /** Webhook channels: the Standard Webhooks secret (`whsec_...`), encrypted. Null for other types. */
  signingSecret: string | null;
  /** Most alerts sent through this channel per UTC day; null = no cap. */
  dailyCap: number | null;
  createdAt: Date;
  updatedAt: Date;
}

export type NewChannel = Omit<Channel, 'id' | 'createdAt' | 'updatedAt'>;
export type ChannelPatch = Partial<Omit<Channel, 'id' | 'createdAt' | 'updatedAt' | 'type'>>;

/** Channels: created, read, listed (by name), patched and deleted by admins. */
export interface ChannelStore {
  /** Throws NameTakenError (lib/store/contract/jobs) when another channel has the name. */
  createChannel(channel: NewChannel): Promise<Channel>;
  getChannel(id: string): Promise<Channel | null>;
  /** By name (code points), then id; a deployment has a handful. */
  listChannels(): Promise<Channel[]>;
  /** Null when it does not exist. Throws NameTakenError on a taken name. */
  updateChannel(id: string, patch: ChannelPatch): Promise<Channel | null>;
  deleteChannel(id: string): Promise<boolean>;
  /**
   * The jobs whose own alert rules name the channel (id and name, by name in code points, then id): what a delete must
   * not orphan. One read of the jobs table (not of runs), done only when a channel is deleted. The default rules
   * are read with getAlertDefaults.
   */
  listJobsUsingChannel(channelId: string): Promise<Array<{ id: string; name: string }>>;
}
