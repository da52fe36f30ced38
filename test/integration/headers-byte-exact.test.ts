import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaClient } from '../../src/adapters/kafka.js';
import { KafkaLogReader } from '../../src/adapters/kafka-fetch.js';
import { loadConfig } from '../../src/config.js';
import { runCli } from '../support/cli.js';
import { eventLetter, sendLetters } from '../support/kafka-dead-letters.js';
import { testNamespace } from '../support/namespace.js';
import { scratchTopics } from '../support/scratch-topics.js';

/** replay and the Kafka redrive copy header values byte for byte, repeated names included. */
const config = loadConfig();
const scratch = scratchTopics(config, 'headers');
let reader: KafkaLogReader;
beforeAll(() => {
  reader = new KafkaLogReader(kafkaClient(config, 'headers-read'));
});
afterAll(() => reader.close());

// Not UTF-8 (0xc3 0x28 is an invalid sequence; 0xff never occurs), and one name twice.
const binary = Buffer.from([0xff, 0x00, 0xc3, 0x28, 0x80]);
const repeated = [Buffer.from('first'), Buffer.from([0xfe, 0xed])];
const hex = (h: Record<string, Buffer[]> | undefined, k: string) =>
  (h?.[k] ?? []).map((b) => b.toString('hex'));

describe('byte-exact headers', () => {
  it('replay --to-topic and dlq redrive keep binary header values and every value of a repeated name', async () => {
    const ns = testNamespace('hdr');
    const events = `${ns}.events`;
    const dlq = `${ns}.dlq`;
    const copy = `${ns}.copy`;
    await scratch.create([{ topic: events }, { topic: dlq }]);
    scratch.deleteAfterAll(copy);
    const letter = await eventLetter(config, events, { bin: binary, rep: repeated });
    await sendLetters(kafkaClient(config, ns), dlq, [letter]);
    const [original] = await reader.readAll(dlq, 0, 0, 1);
    expect(hex(original?.rawHeaders, 'rep')).toEqual(['6669727374', 'feed']);
    const env = {
      ORDERBUS_TOPIC_AUDIT: `${ns}.audit`,
      ORDERBUS_TOPIC_ORDER_EVENTS: events,
      ORDERBUS_KAFKA_CLIENT_ID: ns,
    };

    const replayed = await runCli(['replay', dlq, '--from-offset', '0', '--to-topic', copy, '--execute'], {
      env,
    });
    expect(replayed.code, replayed.stderr).toBe(0);
    const [copied] = await reader.readAll(copy, 0, 0, 1);
    expect(hex(copied?.rawHeaders, 'bin')).toEqual([binary.toString('hex')]);
    expect(hex(copied?.rawHeaders, 'rep')).toEqual(hex(original?.rawHeaders, 'rep'));
    expect(copied?.value?.equals(letter.value)).toBe(true);

    const redriven = await runCli(['dlq', 'redrive', dlq, '--execute', '--json'], { env });
    expect(redriven.code, redriven.stderr).toBe(0);
    const [back] = await reader.readAll(events, 0, 0, 1);
    expect(hex(back?.rawHeaders, 'bin')).toEqual([binary.toString('hex')]);
    expect(hex(back?.rawHeaders, 'rep')).toEqual(hex(original?.rawHeaders, 'rep'));
    expect(Object.keys(back?.rawHeaders ?? {}).filter((k) => k.startsWith('dlq-'))).toEqual([]);
    expect(back?.value?.equals(letter.value)).toBe(true);
  }, 120_000);
});
