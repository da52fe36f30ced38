import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configKeys, loadConfig } from '../../src/config.js';
import { EventHeaders, KafkaDlqHeaders } from '../../src/events/types.js';
import type { RollbackFile } from '../../src/ops/offsets.js';
import { projectRoot } from '../../src/paths.js';
import { TaskHeaders } from '../../src/tasks/topology.js';
import { deadLetterSamples } from '../support/dead-letter-samples.js';

// The sample data in fixtures/ (fixtures/README.md) stays parseable and true to the formats it
// stands for, so the tests that will use it do not test against a broken sample.
const dir = join(projectRoot(), 'fixtures');
const read = (path: string) => readFileSync(join(dir, path), 'utf8');
const readJson = (path: string): unknown => JSON.parse(read(path));

const deadLetters = deadLetterSamples();

/** A binary header's number, read as Java's ByteBuffer wrote it (big-endian). */
function binaryNumber(v: { base64: string; int32?: number; int64?: string }): string {
  const bytes = Buffer.from(v.base64, 'base64');
  if (v.int32 !== undefined) {
    expect(bytes).toHaveLength(4);
    return String(bytes.readInt32BE());
  }
  expect(bytes).toHaveLength(8);
  return bytes.readBigInt64BE().toString();
}

/** Every scalar inside the headers (x-death is a list of tables), binary numbers decoded. */
function headerScalars(v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(headerScalars);
  if (v && typeof v === 'object') {
    if ('base64' in v) return [binaryNumber(v as { base64: string })];
    return Object.values(v).flatMap(headerScalars);
  }
  return [String(v)];
}

const isIso = (s: unknown) => typeof s === 'string' && new Date(s).toISOString() === s;

describe('fixtures/dead-letters', () => {
  it('holds one sample of each dead-letter format, named after it', () => {
    expect(deadLetters.map((d) => d.letter.format).sort()).toEqual([
      'kafka-connect-dlq',
      'orderbus-kafka',
      'orderbus-rabbitmq',
      'rabbitmq-x-death',
      'spring-kafka-dlt',
    ]);
    for (const { file, letter } of deadLetters) expect(file).toBe(`${letter.format}.json`);
  });

  it.each(deadLetters)(
    '$file: where it lies, its headers, value and failure context are well-formed',
    ({ letter }) => {
      expect(letter.description.length).toBeGreaterThan(20);
      if (letter.broker === 'kafka') {
        expect(Number.isInteger(letter.kafka?.partition) && Number.isInteger(letter.kafka?.offset)).toBe(
          true,
        );
        expect(isIso(letter.kafka?.timestamp)).toBe(true);
      } else {
        expect(letter.rabbitmq?.properties).toBeTypeOf('object');
      }
      const scalars = headerScalars(letter.headers);
      for (const [name, v] of Object.entries(letter.headers)) {
        if (v && typeof v === 'object' && 'base64' in v)
          expect(binaryNumber(v), name).toBe(String(v.int32 ?? v.int64));
      }
      if (letter.value.encoding === 'text') expect(letter.value.text).toBeTypeOf('string');
      else expect(letter.value.json).toBeTypeOf('object');
      if (letter.value.encoding === 'registry-json')
        expect(Number.isInteger(letter.value.schemaId)).toBe(true);
      // What a reader should learn from the letter is in its headers, not invented beside them.
      for (const [what, v] of Object.entries(letter.context.origin))
        expect(scalars, what).toContain(String(v));
    },
  );

  it("uses orderbus's own header names for orderbus's letters", () => {
    const kafka = deadLetters.find((d) => d.letter.format === 'orderbus-kafka')?.letter;
    const rabbit = deadLetters.find((d) => d.letter.format === 'orderbus-rabbitmq')?.letter;
    const kafkaNames: string[] = [...Object.values(EventHeaders), ...Object.values(KafkaDlqHeaders)];
    const taskNames: string[] = [...Object.values(TaskHeaders), 'x-attempts'];
    expect(Object.keys(kafka?.headers ?? {}).filter((h) => !kafkaNames.includes(h))).toEqual([]);
    expect(Object.keys(rabbit?.headers ?? {}).filter((h) => !taskNames.includes(h))).toEqual([]);
    expect(kafka?.headers[KafkaDlqHeaders.originalTopic]).toBeDefined();
    expect(rabbit?.headers[TaskHeaders.originalExchange]).toBeDefined();
  });
});

describe('fixtures/offsets', () => {
  const topic = /^[a-zA-Z0-9._-]{1,249}$/;
  const rows = (file: string) =>
    read(join('offsets', file))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split(','));

  it("kafka-reset-plan.csv is kafka-consumer-groups --export's one-group form: topic,partition,offset", () => {
    const plan = rows('kafka-reset-plan.csv');
    expect(plan.length).toBeGreaterThan(0);
    for (const r of plan) {
      expect(r).toHaveLength(3);
      expect(r[0]).toMatch(topic);
      expect(r.slice(1).every((n) => /^\d+$/.test(n))).toBe(true);
    }
    expect(new Set(plan.map((r) => `${r[0]}/${r[1]}`)).size).toBe(plan.length);
  });

  it('kafka-reset-plan-groups.csv is its several-groups form: group,topic,partition,offset', () => {
    for (const r of rows('kafka-reset-plan-groups.csv')) {
      expect(r).toHaveLength(4);
      expect(r[1]).toMatch(topic);
      expect(r.slice(2).every((n) => /^\d+$/.test(n))).toBe(true);
    }
  });

  it('orderbus-rollback.json has the shape offsets reset writes (RollbackFile)', () => {
    const f = readJson(join('offsets', 'orderbus-rollback.json')) as RollbackFile;
    expect(Object.keys(f).sort()).toEqual(['group', 'offsets', 'topic', 'writtenAt']);
    expect(f.group).toBeTypeOf('string');
    expect(f.topic).toMatch(topic);
    expect(isIso(f.writtenAt)).toBe(true);
    for (const o of f.offsets) {
      expect(Object.keys(o).sort()).toEqual(['offset', 'partition']);
      expect(Number.isInteger(o.partition) && Number.isInteger(o.offset) && o.offset >= 0).toBe(true);
    }
  });
});

describe('fixtures/config', () => {
  const known = new Set(configKeys().map((k) => k.path));
  /** Dotted paths of the file's values down to a settable key (the loader ignores unknown keys). */
  const keysOf = (o: Record<string, unknown>, prefix = ''): string[] =>
    Object.entries(o).flatMap(([k, v]) => {
      const path = `${prefix}${k}`;
      if (known.has(path)) return [path];
      return v && typeof v === 'object' && !Array.isArray(v)
        ? keysOf(v as Record<string, unknown>, `${path}.`)
        : [path];
    });
  const file = (name: string) => join(dir, 'config', name);

  it.each(['local.config.json', 'secured.config.json'])(
    '%s sets only keys the configuration knows',
    (name) => {
      const keys = keysOf(readJson(join('config', name)) as Record<string, unknown>);
      expect(keys.filter((k) => !known.has(k))).toEqual([]);
    },
  );

  it('local.config.json is accepted by loadConfig', () => {
    const config = loadConfig({ file: file('local.config.json'), env: {} });
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(config.lag.thresholds.payment?.errLag).toBe(5000);
  });

  it('secured.config.json is accepted by loadConfig, with the SASL credentials from the environment', () => {
    const config = loadConfig({
      file: file('secured.config.json'),
      env: {
        ORDERBUS_KAFKA_SASL_MECHANISM: 'scram-sha-512',
        ORDERBUS_KAFKA_SASL_USERNAME: 'orderbus-ops',
        ORDERBUS_KAFKA_SASL_PASSWORD: 'from-the-environment',
      },
    });
    expect(config.kafka.ssl).toBe(true);
    expect(config.kafka.sasl?.mechanism).toBe('scram-sha-512');
    expect(config.rabbitmq.url).toMatch(/^amqps:/);
    expect(config.topics.replicationFactor).toBe(3);
  });
});
