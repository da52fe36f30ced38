import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadConfigWithSources } from '../../src/config.js';
import { OrderbusError } from '../../src/errors.js';

const emptyDir = () => mkdtempSync(join(tmpdir(), 'orderbus-config-'));

describe('config', () => {
  it('layers defaults < file < environment < flags and records the source of each key', () => {
    const cwd = emptyDir();
    writeFileSync(
      join(cwd, 'orderbus.config.json'),
      JSON.stringify({ kafka: { clientId: 'from-file' }, topics: { partitions: 6 } }),
    );
    const { config, sources } = loadConfigWithSources({
      cwd,
      env: { ORDERBUS_TOPIC_PARTITIONS: '24', ORDERBUS_STACK_DIR: join(cwd, 'stack') },
      flags: { 'kafka.brokers': 'b1:9092,b2:9092' },
    });
    expect(config.kafka.clientId).toBe('from-file');
    expect(config.topics.partitions).toBe(24);
    expect(config.kafka.brokers).toEqual(['b1:9092', 'b2:9092']);
    expect(config.rabbitmq.url).toBe('amqp://guest:guest@127.0.0.1:5672');
    expect(sources['kafka.clientId']).toMatch(/orderbus\.config\.json$/);
    expect(sources['topics.partitions']).toBe('$ORDERBUS_TOPIC_PARTITIONS');
    expect(sources['kafka.brokers']).toBe('flag');
  });

  it('names the key and the expected form for a bad value', () => {
    const cwd = emptyDir();
    const bad = () => loadConfig({ cwd, env: { ORDERBUS_DATABASE_URL: 'mysql://x' } });
    expect(bad).toThrow(OrderbusError);
    expect(bad).toThrow(
      /database\.url from \$ORDERBUS_DATABASE_URL: expected a URL with scheme postgres or postgresql/,
    );
    try {
      bad();
    } catch (e) {
      expect((e as OrderbusError).exitCode).toBe(2);
      expect((e as OrderbusError).code).toBe('CONFIG_INVALID');
    }
    expect(() => loadConfig({ cwd, env: { ORDERBUS_TOPIC_PARTITIONS: 'twelve' } })).toThrow(
      /topics\.partitions .* expected an integer from 1 to 1000/,
    );
  });

  it('reads SASL options from the environment and rejects an unknown mechanism', () => {
    const cwd = emptyDir();
    const c = loadConfig({
      cwd,
      env: {
        ORDERBUS_KAFKA_SASL_MECHANISM: 'scram-sha-512',
        ORDERBUS_KAFKA_SASL_USERNAME: 'u',
        ORDERBUS_KAFKA_SASL_PASSWORD: 'p',
      },
    });
    expect(c.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
    expect(() =>
      loadConfig({
        cwd,
        env: {
          ORDERBUS_KAFKA_SASL_MECHANISM: 'kerberos',
          ORDERBUS_KAFKA_SASL_USERNAME: 'u',
          ORDERBUS_KAFKA_SASL_PASSWORD: 'p',
        },
      }),
    ).toThrow(/mechanism/);
  });

  it('rejects a config file that is not JSON, and a named file that does not exist', () => {
    const cwd = emptyDir();
    writeFileSync(join(cwd, 'orderbus.config.json'), '{ nope');
    expect(() => loadConfig({ cwd, env: {} })).toThrow(/not valid JSON/);
    expect(() => loadConfig({ cwd: emptyDir(), env: {}, file: 'missing.json' })).toThrow(/does not exist/);
  });
});
