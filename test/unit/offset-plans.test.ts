import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  formatKafkaCsv,
  parseKafkaCsv,
  parseTopicSelection,
  readOffsetsFile,
  rollbackFile,
  rollbackOffsets,
} from '../../src/ops/offset-plans.js';
import { projectRoot } from '../../src/paths.js';

const fixture = (name: string) => join(projectRoot(), 'fixtures', 'offsets', name);

describe('offset plans in Kafka tool formats', () => {
  it('reads --topic as Kafka does: T, or T:partitions', () => {
    expect(parseTopicSelection('order.events')).toEqual({ topic: 'order.events' });
    expect(parseTopicSelection('order.events:0,3')).toEqual({ topic: 'order.events', partitions: [0, 3] });
    expect(() => parseTopicSelection('order.events:a')).toThrow(/--topic takes/);
  });

  it("reads the CSV fixtures as kafka-consumer-groups' --export writes them, one group's lines only", () => {
    expect(readOffsetsFile(fixture('kafka-reset-plan.csv'), 'payment')).toHaveLength(6);
    expect(readOffsetsFile(fixture('kafka-reset-plan-groups.csv'), 'saga')).toEqual([
      { topic: 'order.events', partition: 4, offset: 90321 },
      { topic: 'orderbus.audit', partition: 0, offset: 0 },
    ]);
    expect(() => readOffsetsFile(fixture('kafka-reset-plan-groups.csv'), 'nobody')).toThrow(/payment, saga/);
    expect(readOffsetsFile(fixture('orderbus-rollback.json'), 'payment')[0]).toEqual({
      topic: 'order.events',
      partition: 0,
      offset: 15402,
    });
  });

  it('quotes as Jackson does (names over 24 characters), and reads quoted cells back', () => {
    const long = 'a-topic-name-over-24-chars.events';
    const csv = formatKafkaCsv([
      { topic: 'order.events', partition: 0, offset: 5 },
      { topic: long, partition: 1, offset: 7 },
    ]);
    expect(csv).toBe(`order.events,0,5\n"${long}",1,7\n`);
    expect(parseKafkaCsv(csv, 'plan.csv', 'g')).toEqual([
      { topic: 'order.events', partition: 0, offset: 5 },
      { topic: long, partition: 1, offset: 7 },
    ]);
    expect(() => parseKafkaCsv('"unterminated,0,1\n', 'plan.csv', 'g')).toThrow(/line 1/);
  });

  it('writes one-topic rollback files as before and names the topic of other entries', () => {
    const f = rollbackFile('g', [
      { topic: 'a', partition: 0, offset: 1 },
      { topic: 'b', partition: 2, offset: 3 },
    ]);
    expect(f.offsets).toEqual([
      { partition: 0, offset: 1 },
      { topic: 'b', partition: 2, offset: 3 },
    ]);
    expect(rollbackOffsets(f)).toEqual([
      { topic: 'a', partition: 0, offset: 1 },
      { topic: 'b', partition: 2, offset: 3 },
    ]);
  });
});
