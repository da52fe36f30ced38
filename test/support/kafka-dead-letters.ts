import { randomUUID } from 'node:crypto';
import type { IHeaders, Kafka, Message } from 'kafkajs';
import type { OrderbusConfig } from '../../src/config.js';
import { EventCodec, nextEvent } from '../../src/events/codec.js';
import { KafkaDlqHeaders } from '../../src/events/types.js';

/** Kafka dead letters as orderbus's consumers write them, for tests that seed a DLQ topic. */
export interface KafkaLetter {
  key: string;
  value: Buffer;
  headers: IHeaders;
}

/** The failure context orderbus's consumers attach, pointing back at `originalTopic`. */
export const orderbusDlqHeaders = (originalTopic: string, errorClass: string): IHeaders => ({
  [KafkaDlqHeaders.originalTopic]: originalTopic,
  [KafkaDlqHeaders.originalPartition]: '0',
  [KafkaDlqHeaders.originalOffset]: '0',
  [KafkaDlqHeaders.errorClass]: errorClass,
  [KafkaDlqHeaders.errorMessage]: 'boom',
  [KafkaDlqHeaders.attempts]: '3',
  [KafkaDlqHeaders.lastFailureAt]: new Date().toISOString(),
});

const codecs = new WeakMap<OrderbusConfig, EventCodec>();
const codecOf = (config: OrderbusConfig): EventCodec => {
  let codec = codecs.get(config);
  if (!codec) codecs.set(config, (codec = EventCodec.fromConfig(config)));
  return codec;
};

/**
 * A registry-encoded payment.failed event that failed on `originalTopic` (redrivable). `extra`
 * headers come before the failure context, `failure` replaces parts of it (offset, group…).
 */
export async function eventLetter(
  config: OrderbusConfig,
  originalTopic: string,
  extra: IHeaders = {},
  failure: IHeaders = {},
): Promise<KafkaLetter> {
  const orderId = randomUUID();
  const e = nextEvent(
    { eventId: randomUUID(), orderId, correlationId: randomUUID() },
    'payment.failed',
    'test',
    {
      reason: 'card declined',
    },
  );
  const value = await codecOf(config).encode(e);
  return {
    key: orderId,
    value,
    headers: { ...extra, ...orderbusDlqHeaders(originalTopic, 'TransientExhausted'), ...failure },
  };
}

/** A letter that cannot be decoded (never redriven). */
export const garbageLetter = (originalTopic: string, failure: IHeaders = {}): KafkaLetter => ({
  key: 'garbage',
  value: Buffer.from([1, 2, 3, 4]),
  headers: { ...orderbusDlqHeaders(originalTopic, 'UndecodableRecord'), ...failure },
});

/** Writes `messages` to `topic` with acks from every in-sync replica, 500 to a request. */
export async function sendLetters(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 500)
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500) });
  } finally {
    await producer.disconnect();
  }
}
