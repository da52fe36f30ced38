import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadConfigWithSources } from '../../src/config.js';
import { listContexts, showContext, useContext } from '../../src/config-contexts.js';
import { OrderbusError } from '../../src/errors.js';
import { redact, redactUrl } from '../../src/redact.js';

const emptyDir = () => mkdtempSync(join(tmpdir(), 'orderbus-config-'));

/** A temp dir holding orderbus.config.json with `data`. */
function withFile(data: unknown): string {
  const cwd = emptyDir();
  writeFileSync(join(cwd, 'orderbus.config.json'), JSON.stringify(data));
  return cwd;
}

/** The OrderbusError `fn` throws (fails the test when it does not throw one). */
function thrown(fn: () => unknown): OrderbusError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OrderbusError);
    return e as OrderbusError;
  }
  throw new Error('expected an OrderbusError');
}

describe('config', () => {
  it('layers defaults < file < environment < flags and records the source of each key', () => {
    const cwd = withFile({ kafka: { clientId: 'from-file' }, topics: { partitions: 6 } });
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
    expect(bad).toThrow(
      /database\.url from \$ORDERBUS_DATABASE_URL: expected a URL with scheme postgres or postgresql/,
    );
    const e = thrown(bad);
    expect(e.exitCode).toBe(2);
    expect(e.code).toBe('CONFIG_INVALID');
    expect(() => loadConfig({ cwd, env: { ORDERBUS_TOPIC_PARTITIONS: 'twelve' } })).toThrow(
      /topics\.partitions .* expected an integer from 1 to 1000/,
    );
  });

  it('reads SASL options from the environment and rejects an unknown mechanism', () => {
    const cwd = emptyDir();
    const env = { ORDERBUS_KAFKA_SASL_USERNAME: 'u', ORDERBUS_KAFKA_SASL_PASSWORD: 'p' };
    const c = loadConfig({ cwd, env: { ...env, ORDERBUS_KAFKA_SASL_MECHANISM: 'scram-sha-512' } });
    expect(c.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
    expect(() => loadConfig({ cwd, env: { ...env, ORDERBUS_KAFKA_SASL_MECHANISM: 'kerberos' } })).toThrow(
      /mechanism/,
    );
  });

  it('rejects a config file that is not JSON, and a named file that does not exist', () => {
    const cwd = emptyDir();
    writeFileSync(join(cwd, 'orderbus.config.json'), '{ nope');
    expect(() => loadConfig({ cwd, env: {} })).toThrow(/not valid JSON/);
    expect(() => loadConfig({ cwd: emptyDir(), env: {}, file: 'missing.json' })).toThrow(/does not exist/);
  });
});

describe('strict config', () => {
  it.each([
    [{ kafka: { broker: ['x:1'] } }, 'kafka.broker', 'kafka.brokers'],
    [{ kafak: { brokers: ['x:1'] } }, 'kafak', undefined],
    [
      { kafka: { sasl: { mechanism: 'plain', username: 'u', pasword: 'x' } } },
      'kafka.sasl.pasword',
      'kafka.sasl.password',
    ],
    [{ kafka: { ssl: { caFlie: 'ca.pem' } } }, 'kafka.ssl.caFlie', 'kafka.ssl.caFile'],
    [
      { lag: { thresholds: { payment: { errlag: 5 } } } },
      'lag.thresholds.payment.errlag',
      'lag.thresholds.payment.errLag',
    ],
    [{ contexts: { prod: { rabbitmq: { tlsCAFile: 'x' } } } }, 'rabbitmq.tlsCAFile', 'rabbitmq.tlsCaFile'],
  ])('an unknown key is a usage error naming it, its source and a close match: %j', (data, key, close) => {
    const cwd = withFile(data);
    const e = thrown(() => loadConfig({ cwd, env: {} }));
    expect(e.code).toBe('UNKNOWN_CONFIG_KEY');
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(`unknown config key '${key}'`);
    expect(e.message).toContain(join(cwd, 'orderbus.config.json'));
    if (close) expect(e.message).toContain(`did you mean '${close}'`);
    if ('contexts' in data) expect(e.message).toContain('context prod in');
  });

  it('an ORDERBUS_* variable that looks like config but is not one is an error; others are left alone', () => {
    const e = thrown(() => loadConfig({ cwd: emptyDir(), env: { ORDERBUS_KAFKA_BROKER: 'x:1' } }));
    expect(e.code).toBe('UNKNOWN_ENVIRONMENT_VARIABLE');
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/ORDERBUS_KAFKA_BROKER'; did you mean 'ORDERBUS_KAFKA_BROKERS'/);
    expect(e.message).not.toContain('x:1');
    expect(() => loadConfig({ cwd: emptyDir(), env: { ORDERBUS_RABBITMQ_PASWORD: 'pw' } })).toThrow(
      /PASWORD/,
    );
    expect(() =>
      loadConfig({ cwd: emptyDir(), env: { ORDERBUS_BENCH_WARMUP: '0', ORDERBUS_CONTEXT: '', HOME: '/x' } }),
    ).not.toThrow();
  });
});

describe('secrets', () => {
  const SECRET = 'Sup3r-secret-pw';

  it('never shows a secret in an error: a bad mechanism, a bad password value, a bad URL', () => {
    const cases = [
      { kafka: { sasl: { mechanism: 'kerberos', username: 'u', password: SECRET } } },
      { kafka: { sasl: { mechanism: 'plain', username: 7, password: SECRET } } },
      { registry: { password: 42, url: `http://u:${SECRET}@x` } },
      { rabbitmq: { url: `http://ops:${SECRET}@rabbit:5671` } },
      { database: { url: `mysql://ops:${SECRET}@pg/orderbus` } },
    ];
    for (const data of cases) {
      const e = thrown(() => loadConfig({ cwd: withFile(data), env: {} }));
      expect(e.exitCode).toBe(2);
      expect(JSON.stringify({ m: e.message, h: e.hint, d: e.details })).not.toContain(SECRET);
    }
  });

  it('reads passwords from a file (relative to the config file) or a named environment variable', () => {
    const cwd = withFile({
      kafka: { sasl: { mechanism: 'scram-sha-256', username: 'ops', passwordFile: 'kafka.pw' } },
      registry: { url: 'https://registry.example/apis/ccompat/v7', username: 'reg', passwordEnv: 'REG_PW' },
      rabbitmq: { passwordFile: 'rabbit.pw' },
    });
    writeFileSync(join(cwd, 'kafka.pw'), `${SECRET}-k\n`);
    writeFileSync(join(cwd, 'rabbit.pw'), `${SECRET}-r\n`);
    const { config, sources } = loadConfigWithSources({
      cwd: emptyDir(),
      file: join(cwd, 'orderbus.config.json'),
      env: { REG_PW: `${SECRET}-g` },
    });
    expect(config.kafka.sasl).toEqual({
      mechanism: 'scram-sha-256',
      username: 'ops',
      password: `${SECRET}-k`,
    });
    expect(config.registry).toMatchObject({ username: 'reg', password: `${SECRET}-g` });
    expect(new URL(config.rabbitmq.url).password).toBe(`${SECRET}-r`);
    expect(new URL(config.rabbitmq.managementUrl).password).toBe(`${SECRET}-r`);
    expect(sources['rabbitmq.password']).toMatch(/orderbus\.config\.json$/);
    const shown = JSON.stringify(redact(config));
    expect(shown).not.toContain(SECRET);
    expect(shown).toContain('amqp://guest:***@127.0.0.1:5672');
  });

  it('resolves a file named in a context against the config file, not the working directory', () => {
    const cwd = withFile({
      contexts: { prod: { kafka: { sasl: { mechanism: 'plain', username: 'u', passwordFile: 'prod.pw' } } } },
    });
    writeFileSync(join(cwd, 'prod.pw'), `${SECRET}-p`);
    const c = loadConfig({
      cwd: emptyDir(),
      file: join(cwd, 'orderbus.config.json'),
      env: {},
      context: 'prod',
    });
    expect(c.kafka.sasl).toMatchObject({ password: `${SECRET}-p` });
  });

  it('names a missing secret file or variable without failing on its content', () => {
    const cwd = withFile({ kafka: { sasl: { mechanism: 'plain', username: 'u', passwordFile: 'nope.pw' } } });
    expect(thrown(() => loadConfig({ cwd, env: {} })).code).toBe('CONFIG_SECRET_UNREADABLE');
    const cwd2 = withFile({ registry: { username: 'u', passwordEnv: 'NOT_SET_PW' } });
    const e = thrown(() => loadConfig({ cwd: cwd2, env: {} }));
    expect(e.code).toBe('CONFIG_SECRET_MISSING');
    expect(e.message).toContain('$NOT_SET_PW');
    expect(() =>
      loadConfig({ cwd: withFile({ registry: { password: 'a', passwordEnv: 'B' } }), env: {} }),
    ).toThrow(/only one of password, passwordEnv/);
  });

  it('takes the registry credentials out of its URL and a database password from <ENV>_FILE', () => {
    const dir = emptyDir();
    writeFileSync(join(dir, 'db.pw'), `${SECRET}-d`);
    const c = loadConfig({
      cwd: dir,
      env: {
        ORDERBUS_REGISTRY_URL: `https://reg-user:${SECRET}@registry.example/apis/ccompat/v7`,
        ORDERBUS_DATABASE_PASSWORD_FILE: join(dir, 'db.pw'),
      },
    });
    expect(c.registry).toMatchObject({
      url: 'https://registry.example/apis/ccompat/v7',
      username: 'reg-user',
      password: SECRET,
    });
    expect(decodeURIComponent(new URL(c.database.url).password)).toBe(`${SECRET}-d`);
    expect(JSON.stringify(redact(c))).not.toContain(SECRET);
  });

  it('redacts URL user-info passwords inside text and leaves other URLs alone', () => {
    expect(redactUrl('cannot reach amqps://ops:p%40ss@rabbit:5671/vh (x)')).toBe(
      'cannot reach amqps://ops:***@rabbit:5671/vh (x)',
    );
    expect(redactUrl('postgres://postgres@127.0.0.1:5432/orderbus')).toBe(
      'postgres://postgres@127.0.0.1:5432/orderbus',
    );
    expect(redactUrl('http://127.0.0.1:8081/a@b')).toBe('http://127.0.0.1:8081/a@b');
    expect(redact({ sasl: { password: 'x', passwordFile: '/run/pw' } })).toEqual({
      sasl: { password: '***', passwordFile: '/run/pw' },
    });
  });
});

describe('kafka.ssl', () => {
  it('keeps true/false and takes the CA, client certificate and key (mTLS), servername and checks', () => {
    expect(loadConfig({ cwd: withFile({ kafka: { ssl: true } }), env: {} }).kafka.ssl).toBe(true);
    expect(loadConfig({ cwd: emptyDir(), env: { ORDERBUS_KAFKA_SSL: 'true' } }).kafka.ssl).toBe(true);
    const cwd = withFile({
      kafka: {
        ssl: {
          caFile: 'ca.pem',
          certFile: '/etc/c.pem',
          keyFile: 'k.pem',
          servername: 'kafka.internal',
          rejectUnauthorized: false,
        },
      },
    });
    expect(loadConfig({ cwd, env: {} }).kafka.ssl).toEqual({
      enabled: true,
      caFile: join(cwd, 'ca.pem'),
      certFile: '/etc/c.pem',
      keyFile: join(cwd, 'k.pem'),
      servername: 'kafka.internal',
      rejectUnauthorized: false,
    });
    expect(() => loadConfig({ cwd: withFile({ kafka: { ssl: { certFile: 'c.pem' } } }), env: {} })).toThrow(
      /certFile and keyFile together/,
    );
  });
});

describe('contexts', () => {
  const file = {
    kafka: { clientId: 'top', brokers: ['top:9092'] },
    currentContext: 'staging',
    contexts: {
      staging: { kafka: { brokers: ['staging:9092'] } },
      prod: { readOnly: true, kafka: { brokers: ['prod:9093'], clusterId: 'prod-cluster-id' } },
    },
  };

  it('chooses --context, then $ORDERBUS_CONTEXT, then currentContext; none without contexts', () => {
    const cwd = withFile(file);
    expect(loadConfig({ cwd, env: {} })).toMatchObject({
      context: 'staging',
      kafka: { brokers: ['staging:9092'] },
    });
    expect(loadConfig({ cwd, env: { ORDERBUS_CONTEXT: 'prod' } }).context).toBe('prod');
    expect(loadConfig({ cwd, env: { ORDERBUS_CONTEXT: 'prod' }, context: 'staging' }).context).toBe(
      'staging',
    );
    expect(loadConfig({ cwd: emptyDir(), env: {} }).context).toBeUndefined();
  });

  it('lays the context over the file, under the environment and flags; exposes readOnly and clusterId', () => {
    const cwd = withFile(file);
    const { config, sources } = loadConfigWithSources({ cwd, env: {}, context: 'prod' });
    expect(config.kafka).toMatchObject({
      clientId: 'top',
      brokers: ['prod:9093'],
      clusterId: 'prod-cluster-id',
    });
    expect(config.readOnly).toBe(true);
    expect(sources['kafka.brokers']).toBe(`context prod in ${join(cwd, 'orderbus.config.json')}`);
    expect(sources.context).toBe('--context');
    expect(
      loadConfig({ cwd, env: { ORDERBUS_KAFKA_BROKERS: 'env:1' }, context: 'prod' }).kafka.brokers,
    ).toEqual(['env:1']);
    expect(
      loadConfig({ cwd, env: {}, context: 'prod', flags: { 'kafka.brokers': 'flag:1' } }).kafka.brokers,
    ).toEqual(['flag:1']);
    expect(loadConfig({ cwd, env: {}, context: 'staging' }).readOnly).toBe(false);
  });

  it('an unknown context is a usage error with a did-you-mean', () => {
    const e = thrown(() => loadConfig({ cwd: withFile(file), env: { ORDERBUS_CONTEXT: 'prd' } }));
    expect(e).toMatchObject({ code: 'UNKNOWN_CONTEXT', exitCode: 2, hint: 'orderbus context list' });
    expect(e.message).toMatch(/unknown context 'prd'; did you mean 'prod'\? \(from \$ORDERBUS_CONTEXT\)/);
  });

  it('list and show summarise the contexts; use writes currentContext and keeps the rest', () => {
    const cwd = withFile(file);
    const { contexts } = listContexts({ cwd, env: {} });
    expect(contexts).toEqual([
      expect.objectContaining({
        name: 'staging',
        current: true,
        bootstrapServers: ['staging:9092'],
        readOnly: false,
      }),
      expect.objectContaining({ name: 'prod', current: false, clusterId: 'prod-cluster-id', readOnly: true }),
    ]);
    expect(showContext({ cwd, env: {} }, 'prod')).toMatchObject({
      name: 'prod',
      settings: file.contexts.prod,
    });
    useContext({ cwd, env: {} }, 'prod');
    const written = JSON.parse(readFileSync(join(cwd, 'orderbus.config.json'), 'utf8')) as typeof file;
    expect(written).toEqual({ ...file, currentContext: 'prod' });
    expect(loadConfig({ cwd, env: {} }).context).toBe('prod');
    expect(() => useContext({ cwd, env: {} }, 'stagin')).toThrow(/did you mean 'staging'/);
  });
});
