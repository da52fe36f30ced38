import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { usageError } from '../errors.js';

/**
 * What an offset reset is about and the files that carry a plan: `--topic T` / `--topic T:0,3`,
 * Kafka's CSV plan (`topic,partition,offset`, or `group,topic,partition,offset` for several
 * groups — what `kafka-consumer-groups --reset-offsets --export` writes and `--from-file` reads),
 * and orderbus' rollback JSON.
 */
export interface TopicSelection {
  topic: string;
  /** Only these partitions (default: every partition of the topic). */
  partitions?: number[];
}

export interface PlannedOffset {
  topic: string;
  partition: number;
  offset: number;
}

/** The rollback file `offsets reset --execute` writes before it changes anything. */
export interface RollbackFile {
  group: string;
  /** The (first) topic; an entry of another topic names its own. */
  topic: string;
  writtenAt: string;
  offsets: { topic?: string; partition: number; offset: number }[];
}

/** `--topic T` or `--topic T:0,3`, as Kafka's tool takes it. */
export function parseTopicSelection(spec: string): TopicSelection {
  const m = /^([^:]+)(?::(\d+(?:\s*,\s*\d+)*))?$/.exec(spec.trim());
  if (!m)
    throw usageError(
      'BAD_TOPIC',
      `--topic takes a topic, or a topic and its partitions like orders:0,3; got '${spec}'`,
      'orderbus offsets reset --group G --topic order.events:0,3 --to-earliest',
    );
  const topic = m[1] as string;
  return m[2] ? { topic, partitions: m[2].split(',').map((p) => Number(p.trim())) } : { topic };
}

/** Kafka's CSV plan: one `topic,partition,offset` line a partition (the group's own, single-group form). */
export function formatKafkaCsv(offsets: PlannedOffset[]): string {
  return offsets.map((o) => `${csvCell(o.topic)},${o.partition},${o.offset}\n`).join('');
}

/**
 * A cell quoted as Kafka's tool writes it (Jackson's CsvEncoder with its default loose check):
 * quoted when longer than 24 characters or holding a character below '-', so that a plan
 * exported here is byte for byte the one `kafka-consumer-groups --export` writes.
 */
function csvCell(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.length > 24 || /[\u0000-\u002c]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV line's cells: quoted cells may hold commas, `""` is a quote. */
function csvCells(line: string): string[] | undefined {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let cell = '';
      for (i++; ; i++) {
        if (i >= line.length) return undefined;
        if (line[i] === '"' && line[i + 1] === '"') cell += line[i++];
        else if (line[i] === '"') break;
        else cell += line[i];
      }
      cells.push(cell);
      i++;
    } else {
      const end = line.indexOf(',', i);
      cells.push(line.slice(i, end < 0 ? line.length : end).trim());
      i = end < 0 ? line.length : end;
    }
    if (i >= line.length) return cells;
    if (line[i] !== ',') return undefined;
    i++;
  }
}

/** A rollback file's entries with their topics. */
export function rollbackOffsets(f: RollbackFile): PlannedOffset[] {
  return f.offsets.map((o) => ({ topic: o.topic ?? f.topic, partition: o.partition, offset: o.offset }));
}

/** The rollback file of a plan: entries of the first topic without their topic, as before. */
export function rollbackFile(group: string, offsets: PlannedOffset[]): RollbackFile {
  const topic = offsets[0]?.topic ?? '';
  return {
    group,
    topic,
    writtenAt: new Date().toISOString(),
    offsets: offsets.map((o) =>
      o.topic === topic
        ? { partition: o.partition, offset: o.offset }
        : { topic: o.topic, partition: o.partition, offset: o.offset },
    ),
  };
}

const fileError = (file: string, why: string) =>
  usageError(
    'BAD_ROLLBACK_FILE',
    `cannot read offsets file ${file}: ${why}`,
    `a rollback file (ls ${join('.orderbus', 'rollback')}) or a CSV plan of topic,partition,offset lines`,
  );

/**
 * The offsets a `--from-file` sets for `group`: a rollback JSON (for that group, or refused), or a
 * Kafka CSV plan (lines of the several-groups form for other groups are left out).
 */
export function readOffsetsFile(file: string, group: string): PlannedOffset[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw fileError(file, (e as Error).message);
  }
  if (text.trimStart().startsWith('{')) {
    let f: RollbackFile;
    try {
      f = JSON.parse(text) as RollbackFile;
    } catch (e) {
      throw fileError(file, (e as Error).message);
    }
    if (typeof f.group !== 'string' || !Array.isArray(f.offsets))
      throw fileError(file, 'not a rollback file');
    if (f.group !== group)
      throw usageError(
        'ROLLBACK_MISMATCH',
        `${file} is for group ${f.group} on ${f.topic}, not ${group}`,
        `orderbus offsets reset --group ${f.group} --from-file ${file}`,
      );
    return rollbackOffsets(f);
  }
  return parseKafkaCsv(text, file, group);
}

export function parseKafkaCsv(text: string, file: string, group: string): PlannedOffset[] {
  const out: PlannedOffset[] = [];
  const groups = new Set<string>();
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const cells = csvCells(line);
    if (!cells || (cells.length !== 3 && cells.length !== 4))
      throw fileError(
        file,
        `line ${i + 1} '${line}' is not topic,partition,offset (or group,topic,partition,offset)`,
      );
    const [topic, partition, offset] = cells.slice(-3) as [string, string, string];
    if (!/^\d+$/.test(partition) || !/^\d+$/.test(offset) || topic === '')
      throw fileError(file, `line ${i + 1} '${line}' needs a topic and whole-number partition and offset`);
    if (cells.length === 4) {
      groups.add(cells[0] as string);
      if (cells[0] !== group) continue;
    }
    out.push({ topic, partition: Number(partition), offset: Number(offset) });
  }
  if (out.length === 0)
    throw usageError(
      'ROLLBACK_MISMATCH',
      groups.size > 0
        ? `${file} has offsets for group(s) ${[...groups].join(', ')}, not ${group}`
        : `${file} has no offsets`,
      `orderbus offsets reset --group ${[...groups][0] ?? group} --from-file ${file}`,
    );
  return out;
}
