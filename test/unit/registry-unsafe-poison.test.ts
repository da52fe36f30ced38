import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { configEnv } from '../../src/devstack/chaos/config-env.js';
import { EventCodec, EventDecodeError } from '../../src/events/codec.js';
import { isOrderbusError } from '../../src/errors.js';

// registry.unsafeFailuresArePoison is the broken build the registry-restart drill must catch:
// off, a registry that is away is transient; on, what is read meanwhile is poison (dead-lettered).
const record = Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), Buffer.from('{}')]);
const cwd = mkdtempSync(join(tmpdir(), 'orderbus-unsafe-registry-'));
const configWith = (env: Record<string, string>) =>
  loadConfig({ cwd, env: { ORDERBUS_REGISTRY_URL: 'http://127.0.0.1:1', ...env } });

const decodeFailure = (env: Record<string, string>) =>
  EventCodec.fromConfig(configWith(env))
    .decode(record)
    .then(
      () => undefined,
      (e: unknown) => e,
    );

describe('registry.unsafeFailuresArePoison (test-only)', () => {
  it('is off by default: a registry that does not answer is REGISTRY_UNREACHABLE, retried', async () => {
    expect(configWith({}).registry.unsafeFailuresArePoison).toBe(false);
    const e = await decodeFailure({});
    expect(isOrderbusError(e) && e.code).toBe('REGISTRY_UNREACHABLE');
  });

  it('on ($ORDERBUS_UNSAFE_REGISTRY_FAILURES_ARE_POISON): the same failure is poison, UndecodableRecord', async () => {
    const env = { ORDERBUS_UNSAFE_REGISTRY_FAILURES_ARE_POISON: 'true' };
    expect(configWith(env).registry.unsafeFailuresArePoison).toBe(true);
    const e = await decodeFailure(env);
    expect(e).toBeInstanceOf(EventDecodeError);
    expect((e as EventDecodeError).errorClass).toBe('UndecodableRecord');
  });

  it('reaches the drill services, and a value that is not a boolean is a config error', () => {
    const on = configWith({ ORDERBUS_UNSAFE_REGISTRY_FAILURES_ARE_POISON: 'true' });
    expect(configEnv(on).ORDERBUS_UNSAFE_REGISTRY_FAILURES_ARE_POISON).toBe('true');
    expect(() => configWith({ ORDERBUS_UNSAFE_REGISTRY_FAILURES_ARE_POISON: 'sometimes' })).toThrow(
      /registry\.unsafeFailuresArePoison/,
    );
  });
});
