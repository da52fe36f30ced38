import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createRegistry, SchemaType } from '../../src/adapters/registry.js';
import { waitUntil } from '../support/wait.js';
import { testNamespace } from '../support/namespace.js';
import { startPrivateRegistry, type PrivateRegistry } from '../support/private-registry.js';

// The stack's registry keeps its schemas in PostgreSQL: a crash (kill -9) and a restart keep
// every schema id, so records already on Kafka stay decodable. (With the in-memory storage the
// restarted registry answered 0 subjects and "schema not found" for every old id.)
describe('schema registry storage', () => {
  const ns = testNamespace('reg');
  let reg: PrivateRegistry;
  beforeAll(async () => {
    reg = await startPrivateRegistry(loadConfig(), ns, 18_381);
  }, 180_000);
  afterAll(async () => {
    await reg?.stop();
  });

  it('keeps schema ids across a kill -9 and restart', async () => {
    const schema = JSON.stringify({
      type: 'record',
      name: 'Probe',
      namespace: 'orderbus.test',
      fields: [{ name: 'orderId', type: 'string' }],
    });
    const before = createRegistry(reg.config);
    const { id } = await before.register({ type: SchemaType.AVRO, schema }, { subject: `${ns}-value` });
    const encoded = await before.encode(id, { orderId: 'o-1' });

    reg.kill('SIGKILL');
    await reg.start();

    const after = createRegistry(reg.config);
    await waitUntil('registry answers after restart', async () => (await after.getSchema(id)) !== undefined, {
      timeoutMs: 30_000,
    });
    expect(await after.decode(encoded)).toEqual({ orderId: 'o-1' });
    const again = await after.register({ type: SchemaType.AVRO, schema }, { subject: `${ns}-value` });
    expect(again.id).toBe(id);
  });
});
