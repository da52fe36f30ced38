import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { Acks } from '../../src/ops/dlq/rabbit-stream.js';

/** A channel that records what it is told, by delivery tag. */
function channel(closed = false) {
  const sent: { ack?: number; multiple?: boolean; nack?: number }[] = [];
  return {
    sent,
    ack(msg: ConsumeMessage, multiple?: boolean) {
      if (closed) throw new Error('Channel closed');
      sent.push({ ack: msg.fields.deliveryTag, multiple: multiple ?? false });
    },
    nack(msg: ConsumeMessage) {
      if (closed) throw new Error('Channel closed');
      sent.push({ nack: msg.fields.deliveryTag });
    },
  };
}

const delivery = (tag: number) => ({ fields: { deliveryTag: tag } }) as ConsumeMessage;
const nextTurn = () => new Promise((r) => setImmediate(r));

describe('dead-letter acks', () => {
  it('acks a run of settled letters in one frame, after the turn that settled them', async () => {
    const ch = channel();
    const acks = new Acks(ch);
    for (const tag of [1, 2, 3]) acks.ack(delivery(tag));
    expect(ch.sent).toEqual([]);
    await nextTurn();
    expect(ch.sent).toEqual([{ ack: 3, multiple: true }]);
  });

  it('never acks past a letter whose re-publish is not confirmed yet', async () => {
    const ch = channel();
    const acks = new Acks(ch);
    acks.ack(delivery(1));
    acks.ack(delivery(3)); // 2 still waits for its confirm
    await nextTurn();
    expect(ch.sent).toEqual([{ ack: 1, multiple: true }]);
    acks.ack(delivery(2));
    await nextTurn();
    expect(ch.sent).toEqual([
      { ack: 1, multiple: true },
      { ack: 3, multiple: true },
    ]);
  });

  it('leaves a kept letter unacked: the later ones are acked one by one', async () => {
    const ch = channel();
    const acks = new Acks(ch);
    acks.ack(delivery(1));
    acks.keep(delivery(2)); // its re-append failed: it goes back in place when the channel closes
    acks.ack(delivery(3));
    acks.ack(delivery(4));
    await nextTurn();
    expect(ch.sent).toEqual([
      { ack: 1, multiple: false },
      { ack: 3, multiple: false },
      { ack: 4, multiple: false },
    ]);
  });

  it('requeues at once, and acks the letters around it', async () => {
    const ch = channel();
    const acks = new Acks(ch);
    acks.ack(delivery(1));
    acks.requeue(delivery(2));
    acks.ack(delivery(3));
    await nextTurn();
    expect(ch.sent).toEqual([{ nack: 2 }, { ack: 1, multiple: true }, { ack: 3, multiple: true }]);
  });

  it('flush sends what is settled now (before the channel closes)', () => {
    const ch = channel();
    const acks = new Acks(ch);
    acks.ack(delivery(1));
    acks.ack(delivery(2));
    acks.flush();
    expect(ch.sent).toEqual([{ ack: 2, multiple: true }]);
  });

  it('tells each letter whether its ack went out', async () => {
    const outcomes: boolean[] = [];
    const open = new Acks(channel());
    open.ack(delivery(1), (ok) => outcomes.push(ok));
    const gone = new Acks(channel(true));
    gone.ack(delivery(1), (ok) => outcomes.push(ok));
    gone.ack(delivery(2), (ok) => outcomes.push(ok));
    await nextTurn();
    expect(outcomes).toEqual([true, false, false]);
  });
});
