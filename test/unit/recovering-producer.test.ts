import type { Producer, ProducerBatch, RecordMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  IncompleteSendError,
  RecoveringProducer,
  partitionForKey,
  sendConfirmed,
} from '../../src/adapters/kafka.js';

// Stand-ins for kafkajs producer instances. The broker paths themselves are proven by the chaos
// drills against real brokers (kafka-restart for a broken idempotent producer, kafka-broker-kill
// for a send that left partitions out).
type Sent = { topic: string; partition: number; value: string };

/** Answers like kafkajs' sendBatch: one entry per acknowledged partition; `leaveOut` skips some once. */
function answer(batch: ProducerBatch, sent: Sent[], leaveOut = new Set<number>()): RecordMetadata[] {
  const seen = new Map<string, RecordMetadata>();
  for (const tm of batch.topicMessages ?? [])
    for (const m of tm.messages) {
      const partition = Number(m.partition);
      if (leaveOut.has(partition)) continue;
      sent.push({ topic: tm.topic, partition, value: String(m.value) });
      seen.set(`${tm.topic}/${partition}`, { topicName: tm.topic, partition, errorCode: 0 });
    }
  return [...seen.values()];
}

function fakeProducers() {
  const made: { id: number; broken: boolean; connected: boolean; sent: string[] }[] = [];
  const make = (): Producer => {
    const me = { id: made.length, broken: false, connected: false, sent: [] as string[] };
    made.push(me);
    return {
      connect: async () => {
        me.connected = true;
      },
      disconnect: async () => {
        me.connected = false;
      },
      sendBatch: async (b: ProducerBatch) => {
        if (!me.connected) throw new Error('not connected');
        if (me.broken) throw new Error('The broker received an out of order sequence number');
        const sent: Sent[] = [];
        const r = answer(b, sent);
        me.sent.push(...sent.map((s) => s.value));
        return r;
      },
    } as unknown as Producer;
  };
  return { made, make };
}

const fourPartitions = async () => 4;

describe('RecoveringProducer', () => {
  it('replaces a producer whose send failed, and the retried send goes through a new one', async () => {
    const { made, make } = fakeProducers();
    const p = new RecoveringProducer(make, fourPartitions);
    await p.connect();
    await p.send({ topic: 't', messages: [{ value: 'a' }] });
    made[0]!.broken = true;
    await expect(p.send({ topic: 't', messages: [{ value: 'b' }] })).rejects.toThrow(/out of order/);
    expect(made[0]!.connected).toBe(false);
    expect(p.replaced).toBe(1);
    await p.send({ topic: 't', messages: [{ value: 'b' }] });
    expect(made.length).toBe(2);
    expect(made[1]!.sent).toEqual(['b']);
    await p.disconnect();
    expect(made[1]!.connected).toBe(false);
  });

  it('a failed connect is not kept: the next send connects a fresh producer', async () => {
    let fail = true;
    const { made, make } = fakeProducers();
    const p = new RecoveringProducer(() => {
      const inner = make();
      const connect = inner.connect.bind(inner);
      inner.connect = async () => {
        if (fail) throw new Error('Connection error: ECONNREFUSED');
        await connect();
      };
      return inner;
    }, fourPartitions);
    await expect(p.send({ topic: 't', messages: [{ value: 'a' }] })).rejects.toThrow(/ECONNREFUSED/);
    fail = false;
    await p.send({ topic: 't', messages: [{ value: 'a' }] });
    expect(made.at(-1)!.sent).toEqual(['a']);
  });
});

describe('sendConfirmed', () => {
  const keys = Array.from({ length: 40 }, (_, i) => `order-${i}`);

  it('sends again, in order, the partitions a resolved send left out (kafkajs after a leader move)', async () => {
    const sent: Sent[] = [];
    const reported: string[] = [];
    let calls = 0;
    const producer = {
      sendBatch: async (b: ProducerBatch) => {
        calls++;
        // The first answer covers only the partitions of the brokers that had answered.
        return answer(b, sent, calls === 1 ? new Set([1, 2]) : new Set());
      },
    };
    const r = await sendConfirmed(
      producer,
      { acks: -1, topicMessages: [{ topic: 't', messages: keys.map((k) => ({ key: k, value: k })) }] },
      fourPartitions,
      { onIncomplete: (m) => reported.push(...m) },
    );
    expect(calls).toBe(2);
    expect(reported.sort()).toEqual(['t/1', 't/2']);
    expect(new Set(r.map((x) => x.partition))).toEqual(new Set([0, 1, 2, 3]));
    // Every message once, on the partition kafkajs' default partitioner gives its key.
    expect(sent.map((s) => s.value).sort()).toEqual([...keys].sort());
    for (const s of sent) expect(s.partition).toBe(partitionForKey(s.value, 4));
    // Within a partition the order is the order of the batch.
    for (let p = 0; p < 4; p++)
      expect(sent.filter((s) => s.partition === p).map((s) => s.value)).toEqual(
        keys.filter((k) => partitionForKey(k, 4) === p),
      );
  });

  it('fails with IncompleteSendError when a partition is still left out after three sends', async () => {
    const producer = { sendBatch: async (b: ProducerBatch) => answer(b, [], new Set([3])) };
    const err = await sendConfirmed(
      producer,
      { acks: -1, topicMessages: [{ topic: 't', messages: keys.map((k) => ({ key: k, value: k })) }] },
      fourPartitions,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IncompleteSendError);
    expect((err as IncompleteSendError).missing).toEqual(['t/3']);
  });

  it('keeps explicit partitions and spreads keyless messages over every partition', async () => {
    const sent: Sent[] = [];
    const producer = { sendBatch: async (b: ProducerBatch) => answer(b, sent) };
    await sendConfirmed(
      producer,
      {
        acks: -1,
        topicMessages: [
          { topic: 't', messages: [{ key: 'x', value: 'pinned', partition: 2 }] },
          { topic: 't', messages: Array.from({ length: 8 }, (_, i) => ({ key: null, value: `k${i}` })) },
        ],
      },
      fourPartitions,
    );
    expect(sent.find((s) => s.value === 'pinned')?.partition).toBe(2);
    expect(new Set(sent.filter((s) => s.value !== 'pinned').map((s) => s.partition))).toEqual(
      new Set([0, 1, 2, 3]),
    );
  });
});
