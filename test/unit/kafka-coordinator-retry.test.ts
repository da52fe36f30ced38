import { createRequire } from 'node:module';
import { KafkaJSNumberOfRetriesExceeded } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { coordinatorNotReady, renewingClient, whileCoordinatorLoads } from '../../src/adapters/kafka.js';

/**
 * Group requests while the group coordinator loads or moves: Kafka 4.x answers them with
 * COORDINATOR_LOAD_IN_PROGRESS (14) or NOT_COORDINATOR (16) for about half a second after a broker
 * starts (kafka4-dlq-trace caught `dlq list` failing with error[INTERNAL] there). The admin that
 * connectAdmin gives runs each call through whileCoordinatorLoads; this is that client over a fake.
 */
const require_ = createRequire(import.meta.url);
const { createErrorFromCode } = require_('kafkajs/src/protocol/error') as {
  createErrorFromCode(code: number): Error;
};

/** An admin whose fetchOffsets first throws each of `failures`, then answers. */
function fakeAdmin(failures: Error[]) {
  const admin = {
    calls: 0,
    async fetchOffsets() {
      admin.calls++;
      const e = failures.shift();
      if (e) throw e;
      return [{ topic: 't', partitions: [{ partition: 0, offset: '4', metadata: null }] }];
    },
    async disconnect() {},
  };
  return admin;
}

describe('an admin call while the group coordinator loads', () => {
  it.each([
    { codes: [16, 14], what: 'NOT_COORDINATOR, then COORDINATOR_LOAD_IN_PROGRESS' },
    { codes: [15], what: 'COORDINATOR_NOT_AVAILABLE' },
  ])('is tried again after $what, and answers', async ({ codes }) => {
    const fake = fakeAdmin(codes.map(createErrorFromCode));
    const admin = await renewingClient(async () => fake, whileCoordinatorLoads);
    expect(await admin.fetchOffsets()).toEqual([
      { topic: 't', partitions: [{ partition: 0, offset: '4', metadata: null }] },
    ]);
    expect(fake.calls).toBe(codes.length + 1);
  });

  it('fails at once on any other error', async () => {
    for (const e of [createErrorFromCode(25), new Error('boom')]) {
      const fake = fakeAdmin([e]);
      const admin = await renewingClient(async () => fake, whileCoordinatorLoads);
      await expect(admin.fetchOffsets()).rejects.toBe(e);
      expect(fake.calls).toBe(1);
    }
  });

  it('knows the coordinator errors inside the errors kafkajs wraps them in', () => {
    const wrapped = new KafkaJSNumberOfRetriesExceeded(createErrorFromCode(14), {
      retryCount: 5,
      retryTime: 1,
    });
    expect(coordinatorNotReady(wrapped)).toBe(true);
    expect(coordinatorNotReady(createErrorFromCode(16))).toBe(true);
    expect(coordinatorNotReady(createErrorFromCode(3))).toBe(false);
  });
});
