import type { Command } from 'commander';
import { usageError } from '../src/errors.js';
import type { ReadRecord, ReadRequest, ReadStart } from '../src/ops/read.js';
import { withCommandOps } from './context.js';
import { parseCount, parseOffsetOrTime, parseTimeOrAgo } from './options.js';
import { log, paint, stopSignal, writeLine } from './output.js';

/** One record a line, as kcat -C shows it with its envelope: where, when, key, headers, value. */
export function renderRecord(r: ReadRecord): string {
  const b64 = (text: string, encoding: string | null) => (encoding === 'base64' ? `base64:${text}` : text);
  const headers = r.headers.map((h) => `${h.key}=${b64(h.value, h.encoding)}`).join(' ');
  const value =
    r.decoded !== undefined
      ? JSON.stringify(r.decoded)
      : r.value === null
        ? 'null'
        : b64(r.value, r.valueEncoding);
  const key = r.key === null ? 'null' : b64(r.key, r.keyEncoding);
  const parts = [
    paint.dim(`p${r.partition}@${r.offset}`),
    paint.dim(r.timestamp),
    `key=${key}`,
    ...(headers ? [`[${headers}]`] : []),
    ...(r.decodeError ? [paint.yellow(`(undecoded: ${r.decodeError})`)] : []),
    value,
  ];
  return parts.join('  ');
}

interface ReadOptions {
  partition?: string;
  fromOffset?: string;
  fromTime?: string;
  last?: string;
  until?: string;
  key?: string;
  filter?: string;
  limit?: string;
  follow?: boolean;
  json?: boolean;
}

function startOf(topic: string, o: ReadOptions): ReadStart | undefined {
  const given = [o.fromOffset, o.fromTime, o.last].filter((v) => v !== undefined);
  if (given.length > 1)
    throw usageError(
      'READ_START',
      'choose at most one of --from-offset, --from-time, --last',
      `orderbus read ${topic} --last 10`,
    );
  if (o.fromOffset !== undefined) return { offset: parseCount(o.fromOffset, '--from-offset') };
  if (o.fromTime !== undefined) return { time: parseTimeOrAgo(o.fromTime, '--from-time') };
  if (o.last !== undefined) return { last: parseCount(o.last, '--last') };
  return undefined;
}

export function defineRead(program: Command): void {
  program
    .command('read <topic>')
    .description(
      'read records of any topic (like kcat -C): ranges per partition, key and filters, registry decoding; joins no group, commits nothing',
    )
    .option('--partition <list>', 'only these partitions, e.g. 0 or 0,3')
    .option('--from-offset <n>', 'start at this offset of each partition')
    .option('--from-time <iso|duration>', 'start at the first record at or after this time (or 15m ago)')
    .option('--last <n>', 'the last N records of each partition')
    .option('--until <offset|iso>', 'end (exclusive) of each partition: an offset or a time')
    .option('--key <key>', 'only records with this key')
    .option(
      '--filter <expr>',
      "header and payload filter in dlq's language, e.g. 'headers.type=OrderPlaced && payload.total>100'",
    )
    .option('--limit <n>', 'stop after N matching records')
    .option('--follow', 'keep reading new records until Ctrl-C')
    .option('--json', 'one JSON object per record and line (header and key bytes that are not text: base64)')
    .action(async (topic: string, opts: ReadOptions, cmd: Command) => {
      const { parsePartitions } = await import('../src/ops/offsets.js');
      const from = startOf(topic, opts);
      const partitions = parsePartitions(opts.partition, '--partition');
      const req: ReadRequest = {
        topic,
        ...(partitions ? { partitions } : {}),
        ...(from ? { from } : {}),
        ...(opts.until !== undefined ? { until: parseOffsetOrTime(opts.until, '--until') } : {}),
        ...(opts.key !== undefined ? { key: opts.key } : {}),
        ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
        ...(opts.limit !== undefined ? { limit: parseCount(opts.limit, '--limit') } : {}),
        follow: opts.follow === true,
        signal: stopSignal(),
      };
      const { readTopic } = await import('../src/ops/read.js');
      const summary = await withCommandOps(cmd, (ctx) =>
        readTopic(ctx, req, (r) => writeLine(opts.json ? JSON.stringify(r) : renderRecord(r))),
      );
      log(
        `${summary.matched} record(s)${summary.matched !== summary.read ? ` matched of ${summary.read} read` : ''} from ${topic} (${summary.partitions
          .map((p) => `p${p.partition} ${p.from}..${p.until ?? '∞'}`)
          .join(', ')})`,
      );
    });
}
