import type { Producer, ProducerRecord } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { RecoveringProducer } from '../../src/adapters/kafka.js';

// A stand-in for one kafkajs producer instance: it fails every send once broken, as kafkajs'
// idempotent producer does after OUT_OF_ORDER_SEQUENCE_NUMBER. (The broker path itself is proven
// by the kafka-restart chaos drill against a real broker.)
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
      send: async (r: ProducerRecord) => {
        if (!me.connected) throw new Error('not connected');
        if (me.broken) throw new Error('The broker received an out of order sequence number');
        me.sent.push(...r.messages.map((m) => String(m.value)));
        return [];
      },
    } as unknown as Producer;
  };
  return { made, make };
}

describe('RecoveringProducer', () => {
  it('replaces a producer whose send failed, and the retried send goes through a new one', async () => {
    const { made, make } = fakeProducers();
    const p = new RecoveringProducer(make);
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
    });
    await expect(p.send({ topic: 't', messages: [{ value: 'a' }] })).rejects.toThrow(/ECONNREFUSED/);
    fail = false;
    await p.send({ topic: 't', messages: [{ value: 'a' }] });
    expect(made.at(-1)!.sent).toEqual(['a']);
  });
});
