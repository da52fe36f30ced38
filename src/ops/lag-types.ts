/**
 * The shapes of consumer lag: what one snapshot observes (samples) and what the window makes of
 * them (lags with statuses). Kept apart from the I/O and the rules so both can import them
 * without importing each other.
 */
import type { GroupProtocol } from '../adapters/kafka-groups.js';

export type LagStatus = 'OK' | 'WARN' | 'REWIND' | 'STALL' | 'STOP' | 'ERR';
export type { GroupProtocol };

export interface PartitionOwner {
  memberId: string;
  clientId: string;
  host: string;
}

/** One observation of one partition of one group. */
export interface PartitionSample {
  topic: string;
  partition: number;
  committed: number | null;
  logStart: number;
  logEnd: number;
  owner: PartitionOwner | null;
}

export interface GroupSample {
  group: string;
  /** Which protocol described the group (absent: classic, as before KIP-848). */
  protocol?: GroupProtocol;
  state: string;
  members: number;
  partitions: PartitionSample[];
}

export interface LagSnapshot {
  at: number;
  groups: GroupSample[];
  /** Time lag per `topic/partition/committedOffset`, when asked for. */
  recordTimestamps: Map<string, number>;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  committed: number | null;
  logStart: number;
  logEnd: number;
  /** logEnd − committed; null when the group has no committed offset there (as Kafka's tool prints '-'). */
  lag: number | null;
  /** Age (ms) of the oldest unconsumed record; 0 when caught up; null when unknown. */
  timeLagMs: number | null;
  /** Records/s committed over the window; null with a single sample. */
  consumeRate: number | null;
  etaSeconds: number | null;
  owner: PartitionOwner | null;
  status: LagStatus;
}

export interface GroupLag {
  group: string;
  /** 'consumer' for a KIP-848 group (described by ConsumerGroupDescribe); absent: classic. */
  protocol?: GroupProtocol;
  state: string;
  members: number;
  totalLag: number;
  maxTimeLagMs: number | null;
  consumeRate: number | null;
  etaSeconds: number | null;
  status: LagStatus;
  /** Why the status is not OK, one short line each. */
  reasons: string[];
  partitions: PartitionLag[];
}

export interface LagReport {
  at: string;
  windowSeconds: number;
  samples: number;
  groups: GroupLag[];
}

export interface LagQuery {
  groups?: string[];
  topic?: string;
  /** Read record timestamps for time lag (one Fetch per broker per round). */
  timeLag?: boolean;
}
