import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { releaseFromApiVersions, type ApiVersionRanges } from '../../src/adapters/kafka-versions.js';
import { isLocalStack, unreachableHint } from '../../src/local-stack.js';
import { formatTarget } from '../../src/ops/target.js';

/** "min-max" per API key, as a broker's ApiVersions answer lists them (trimmed to the telling keys). */
const ranges = (o: Record<number, string>): ApiVersionRanges =>
  Object.fromEntries(
    Object.entries(o).map(([k, v]) => {
      const [min, max] = v.split('-').map(Number);
      return [k, { minVersion: min ?? 0, maxVersion: max ?? 0 }];
    }),
  );

describe('operations-only targets', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'orderbus-ops-only-'));
  const load = (env: Record<string, string>) => loadConfig({ cwd, env });

  it('brokers left at the local stack mean all four components', () => {
    expect(load({}).components).toEqual(['kafka', 'rabbitmq', 'postgres', 'registry']);
    expect(load({ ORDERBUS_KAFKA_BROKERS: '127.0.0.1:9092' }).components).toHaveLength(4);
  });

  it('brokers given elsewhere bring only the components whose address is given too', () => {
    expect(load({ ORDERBUS_KAFKA_BROKERS: '10.0.0.1:9093' }).components).toEqual(['kafka']);
    expect(
      load({ ORDERBUS_KAFKA_BROKERS: '10.0.0.1:9093', ORDERBUS_RABBITMQ_URL: 'amqp://10.0.0.2:5672' })
        .components,
    ).toEqual(['kafka', 'rabbitmq']);
  });

  it('components can be set explicitly, in a context too, and bad names are rejected', () => {
    const file = join(cwd, 'ctx.json');
    writeFileSync(
      file,
      JSON.stringify({ contexts: { ops: { components: ['rabbitmq', 'kafka'] } }, currentContext: 'ops' }),
    );
    expect(loadConfig({ cwd, env: {}, file }).components).toEqual(['kafka', 'rabbitmq']);
    expect(() => load({ ORDERBUS_COMPONENTS: 'kafka,mysql' })).toThrow(/components/);
  });

  it('names the Kafka release from the API versions a broker advertises', () => {
    // Observed: Apache Kafka 3.9.1 (the shared stack) and 4.4.0.
    expect(releaseFromApiVersions(ranges({ 1: '0-17', 65: '0-0', 69: '0-0', 75: '0-0', 80: '0-0' }))).toBe(
      '3.9',
    );
    expect(releaseFromApiVersions(ranges({ 1: '4-18', 65: '0-0', 69: '0-1', 75: '0-0', 80: '0-1' }))).toBe(
      '4.x',
    );
    expect(releaseFromApiVersions(ranges({ 1: '0-15', 65: '0-0', 69: '0-0' }))).toBe('3.7');
    expect(releaseFromApiVersions(ranges({ 1: '0-12' }))).toBe('< 3.0');
  });

  it('suggests stack up only at the local stack addresses', () => {
    expect(isLocalStack('kafka', ['127.0.0.1:9092', '127.0.0.1:9094'])).toBe(true);
    expect(isLocalStack('kafka', ['127.0.0.2:1'])).toBe(false);
    expect(isLocalStack('postgres', 'postgres://u@db.internal:5432/x')).toBe(false);
    const remote = unreachableHint('kafka', ['10.0.0.1:9093'], 'orderbus stack up', {
      key: 'kafka.brokers',
      context: 'staging',
    });
    expect(remote).not.toContain('stack up');
    expect(remote).toContain('orderbus context show staging');
    expect(unreachableHint('kafka', ['127.0.0.1:9092'], 'orderbus stack up', { key: 'k' })).toBe(
      'orderbus stack up',
    );
  });

  it('shows the target on one line', () => {
    expect(formatTarget({ context: 'staging', bootstrapServers: ['10.0.0.1:9093'], clusterId: 'AbC' })).toBe(
      'target: context staging · 10.0.0.1:9093 · cluster AbC',
    );
  });
});
