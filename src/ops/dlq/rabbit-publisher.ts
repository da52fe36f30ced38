import type { Options } from 'amqplib';
import { connectRabbit, type AmqpConnection, type ConfirmChannel } from '../../adapters/rabbitmq.js';
import type { OpsContext } from '../context.js';

/** Names a re-publish so its basic.return can be matched to it (a return arrives before its confirm). */
export const REDRIVE_SEQ_HEADER = 'x-orderbus-redrive-seq';

/** Why a re-publish did not land; null when the broker routed and confirmed it. */
export type SendOutcome = null | { reason: string; channelGone?: true };

/**
 * Re-publishes for a redrive, on a confirm channel of its own connection (the broker then reads
 * deliveries and publishes in parallel). Every publish is `mandatory`: a letter that routes to no
 * queue comes back as basic.return and is reported, never confirmed as if delivered. Exchanges are
 * checked before the first publish to them, on a throwaway channel, because a publish to a
 * missing exchange closes the channel under every letter that follows.
 */
export class Republisher {
  private readonly returned = new Map<string, string>();
  private readonly exchanges = new Map<string, Promise<boolean>>();
  private seq = 0;
  private gone = false;

  private constructor(
    private readonly ctx: OpsContext,
    private readonly conn: AmqpConnection,
    private readonly ch: ConfirmChannel,
    private readonly runId: string,
  ) {
    ch.on('error', () => undefined);
    ch.on('close', () => (this.gone = true));
    ch.on('return', (msg: { fields: { replyText: string }; properties: Options.Publish }) => {
      const seq = msg.properties.headers?.[REDRIVE_SEQ_HEADER] as unknown;
      if (typeof seq === 'string') this.returned.set(seq, msg.fields.replyText);
    });
  }

  static async open(ctx: OpsContext, runId: string): Promise<Republisher> {
    const conn = await connectRabbit(ctx.config, 'orderbus-ops-redrive');
    return new Republisher(ctx, conn, await conn.createConfirmChannel(), runId);
  }

  get closed(): boolean {
    return this.gone;
  }

  /** Whether an exchange exists ('' always does), asked once per run. */
  exchangeExists(name: string): Promise<boolean> {
    if (name === '') return Promise.resolve(true);
    let known = this.exchanges.get(name);
    if (!known) {
      known = (async () => {
        const ch = await (await this.ctx.amqp()).createChannel();
        ch.on('error', () => undefined);
        try {
          await ch.checkExchange(name);
          await ch.close().catch(() => undefined);
          return true;
        } catch {
          return false; // a 404 closed that channel, not ours
        }
      })();
      this.exchanges.set(name, known);
    }
    return known;
  }

  /** Publishes (mandatory, persistent) and resolves from the broker's confirm; never rejects. */
  send(
    exchange: string,
    routingKey: string,
    body: Buffer,
    properties: Options.Publish,
  ): Promise<SendOutcome> {
    const seq = `${this.runId}:${this.seq++}`;
    const where = `${exchange || '(default)'}/${routingKey}`;
    return new Promise<SendOutcome>((resolve) => {
      if (this.gone) return resolve({ reason: 'the channel to RabbitMQ closed', channelGone: true });
      try {
        this.ch.publish(
          exchange,
          routingKey,
          body,
          {
            ...properties,
            persistent: true,
            mandatory: true,
            headers: { ...properties.headers, [REDRIVE_SEQ_HEADER]: seq },
          },
          (err: unknown) => {
            const returned = this.returned.get(seq);
            this.returned.delete(seq);
            if (err)
              resolve(
                this.gone
                  ? { reason: 'the channel to RabbitMQ closed', channelGone: true }
                  : { reason: `the broker refused the publish to ${where}` },
              );
            else if (returned !== undefined)
              resolve({ reason: `unroutable: ${where} routes to no queue (${returned})` });
            else resolve(null);
          },
        );
      } catch {
        resolve({ reason: 'the channel to RabbitMQ closed', channelGone: true });
      }
    });
  }

  async close(): Promise<void> {
    await this.ch.close().catch(() => undefined);
    await this.conn.close().catch(() => undefined);
  }
}
