import type { LagThresholds } from '../config.js';
import { probeKey } from '../adapters/kafka-fetch.js';
import {
  evaluateGroup,
  evaluatePartition,
  partitionLag,
  severity,
  spansTime,
  thresholdsFor,
  type PartitionWindow,
} from './lag-rules.js';
import type {
  GroupLag,
  GroupSample,
  LagReport,
  LagStatus,
  LagSnapshot,
  PartitionLag,
  PartitionSample,
} from './lag-types.js';

/**
 * A sliding window of snapshots, evaluated into Burrow's statuses (the rules are in
 * lag-rules.ts) plus what the window measures: drain rate, ETA and time lag.
 */
export class LagMonitor {
  private readonly window: LagSnapshot[] = [];
  /**
   * Each partition's samples over the window, oldest first, by group, topic and partition number:
   * kept as snapshots come and go, so an evaluation reads them where it used to gather them
   * (20,000 partitions by 1,000 groups: an array per partition per refresh of the console).
   */
  private readonly windows = new Map<
    string,
    Map<string, ({ at: number; p: PartitionSample }[] | undefined)[]>
  >();

  constructor(
    private readonly windowSamples: number,
    private readonly thresholds: Record<string, LagThresholds> = {},
  ) {}

  add(s: LagSnapshot): void {
    for (const g of s.groups) {
      let byTopic = this.windows.get(g.group);
      if (!byTopic) this.windows.set(g.group, (byTopic = new Map()));
      for (const p of g.partitions) {
        let list = byTopic.get(p.topic);
        if (!list) byTopic.set(p.topic, (list = []));
        (list[p.partition] ??= []).push({ at: s.at, p });
      }
    }
    this.window.push(s);
    while (this.window.length > Math.max(1, this.windowSamples)) {
      const gone = this.window.shift();
      if (gone) this.forget(gone);
    }
  }

  /** Takes an evicted snapshot's samples out of the partitions' windows (each its oldest). */
  private forget(gone: LagSnapshot): void {
    for (const g of gone.groups) {
      const byTopic = this.windows.get(g.group);
      for (const p of g.partitions) {
        const list = byTopic?.get(p.topic);
        const w = list?.[p.partition];
        if (!list || w?.[0]?.p !== p) continue;
        w.shift();
        if (w.length > 0) continue;
        list[p.partition] = undefined;
        if (!list.some((x) => x !== undefined)) byTopic?.delete(p.topic);
      }
      if (byTopic?.size === 0) this.windows.delete(g.group);
    }
  }

  get samples(): number {
    return this.window.length;
  }

  evaluate(): LagReport {
    const last = this.window[this.window.length - 1];
    if (!last) return { at: new Date().toISOString(), windowSeconds: 0, samples: 0, groups: [] };
    const first = this.window[0] ?? last;
    return {
      at: new Date(last.at).toISOString(),
      windowSeconds: (last.at - first.at) / 1000,
      samples: this.window.length,
      groups: last.groups.map((g) => this.groupLag(g, last)),
    };
  }

  /** The partition in every snapshot of the window that has it, oldest first. */
  private history(group: string, topic: string, partition: number): PartitionWindow {
    return this.windows.get(group)?.get(topic)?.[partition] ?? [];
  }

  private groupLag(g: GroupSample, last: LagSnapshot): GroupLag {
    const evaluated = g.partitions.map((p) => {
      const w = this.history(g.group, p.topic, p.partition);
      const finding = evaluatePartition(w);
      return { lag: partitionFigures(p, w, last, finding?.status ?? 'OK'), finding };
    });
    const partitions = evaluated.map((e) => e.lag);
    const totalLag = partitions.reduce((s, p) => s + (p.lag ?? 0), 0);
    const times = partitions.map((p) => p.timeLagMs).filter((t): t is number => t !== null);
    const maxTimeLagMs = times.length ? Math.max(...times) : null;
    const rates = partitions.map((p) => p.consumeRate).filter((r): r is number => r !== null);
    const consumeRate = rates.length ? rates.reduce((a, b) => a + b, 0) : null;
    const { status, reasons } = evaluateGroup(
      evaluated.map((e) => e.finding),
      { state: g.state, members: g.members, totalLag, maxTimeLagMs },
      thresholdsFor(g.group, this.thresholds),
    );
    return {
      group: g.group,
      ...(g.protocol ? { protocol: g.protocol } : {}),
      state: g.state,
      members: g.members,
      totalLag,
      maxTimeLagMs,
      consumeRate,
      etaSeconds: eta(totalLag, consumeRate),
      status,
      reasons,
      partitions,
    };
  }
}

/** One partition's figures from its window. */
function partitionFigures(
  p: PartitionSample,
  w: PartitionWindow,
  last: LagSnapshot,
  status: LagStatus,
): PartitionLag {
  const lag = partitionLag(p);
  const rate = consumeRate(w);
  return {
    topic: p.topic,
    partition: p.partition,
    committed: p.committed,
    logStart: p.logStart,
    logEnd: p.logEnd,
    lag,
    timeLagMs: timeLag(p, lag, last),
    consumeRate: rate,
    etaSeconds: eta(lag, rate),
    owner: p.owner,
    status,
  };
}

/** Records/s committed across the window; null with one sample or nothing committed. */
function consumeRate(w: PartitionWindow): number | null {
  const first = w[0];
  const last = w[w.length - 1];
  if (!first || !last || !spansTime(w) || first.p.committed === null || last.p.committed === null)
    return null;
  return Math.max(0, (last.p.committed - first.p.committed) / ((last.at - first.at) / 1000));
}

/** Age of the oldest unconsumed record, from the timestamp the snapshot probed. */
function timeLag(p: PartitionSample, lag: number | null, last: LagSnapshot): number | null {
  if (lag === 0) return 0;
  if (lag === null || p.committed === null) return null;
  const ts = last.recordTimestamps.get(
    probeKey({ topic: p.topic, partition: p.partition, offset: Math.max(p.committed, p.logStart) }),
  );
  return ts === undefined ? null : Math.max(0, last.at - ts);
}

const eta = (lag: number | null, rate: number | null): number | null =>
  lag === 0 ? 0 : lag !== null && rate !== null && rate > 0 ? lag / rate : null;

/** Worst status first, then the largest lag, then by name: what `orderbus lag` prints. */
export function sortWorstFirst(r: LagReport): LagReport {
  return {
    ...r,
    groups: [...r.groups].sort(
      (a, b) =>
        severity(b.status) - severity(a.status) || b.totalLag - a.totalLag || a.group.localeCompare(b.group),
    ),
  };
}
