import { ExitCode, OrderbusError } from '../errors.js';
import type { OpsContext } from './context.js';

/**
 * The cluster a command talks to, as the cluster itself says: what every dry run, confirmation
 * and audit record shows, and what a pinned `kafka.clusterId` is checked against.
 */
export interface Target {
  /** The config file's context in use, or null without one. */
  context: string | null;
  bootstrapServers: string[];
  /** From DescribeCluster: the id the brokers answer with. */
  clusterId: string;
  readOnly: boolean;
}

export async function describeTarget(ctx: OpsContext): Promise<Target> {
  const { clusterId } = await (await ctx.admin()).describeCluster();
  return {
    context: ctx.config.context ?? null,
    bootstrapServers: ctx.config.kafka.brokers,
    clusterId,
    readOnly: ctx.config.readOnly,
  };
}

/**
 * Call before anything that changes a cluster (an `--execute`): refuses, with exit 3, a read-only
 * context, and brokers that answer with another cluster id than the one the context pins.
 * Returns the target for the caller to show and record.
 */
export async function guardChange(ctx: OpsContext, action = 'change anything'): Promise<Target> {
  const where = ctx.config.context ? `context ${ctx.config.context}` : 'the configuration';
  if (ctx.config.readOnly) {
    throw new OrderbusError('CONTEXT_READ_ONLY', `${where} is read-only: refusing to ${action}`, {
      hint: `orderbus --context <writable context> … (orderbus context list), or set readOnly: false in ${where}`,
      exitCode: ExitCode.unsafe,
      subject: ctx.config.context ?? ctx.config.kafka.brokers.join(','),
    });
  }
  const target = await describeTarget(ctx);
  const pinned = ctx.config.kafka.clusterId;
  if (pinned !== undefined && pinned !== target.clusterId) {
    throw new OrderbusError(
      'CLUSTER_MISMATCH',
      `the brokers ${target.bootstrapServers.join(',')} answer as cluster ${target.clusterId}, but ${where} pins kafka.clusterId ${pinned}: refusing to ${action}`,
      {
        hint: `check the bootstrap servers (--bootstrap-server, kafka.brokers): orderbus context show${ctx.config.context ? ` ${ctx.config.context}` : ''}`,
        exitCode: ExitCode.unsafe,
        subject: target.bootstrapServers.join(','),
        details: { expectedClusterId: pinned, clusterId: target.clusterId },
      },
    );
  }
  return target;
}

/** One line for dry runs and confirmations: `target: context staging · 10.0.0.1:9093 · cluster AbC…`. */
export function formatTarget(t: {
  context: string | null;
  bootstrapServers: string[];
  clusterId: string | null;
}): string {
  const context = t.context ? `context ${t.context}` : 'no context';
  return `target: ${context} · ${t.bootstrapServers.join(',')} · cluster ${t.clusterId ?? 'unknown'}`;
}

/** What a command's target line says, as data (its JSON output's `cluster`). */
export interface CommandTarget {
  context: string | null;
  bootstrapServers: string[];
  /** Null where Kafka is no part of the target or does not answer. */
  clusterId: string | null;
}

/**
 * The target of a command, as the brokers answer; clusterId null where Kafka is no part of the
 * target or does not answer (a RabbitMQ dry run still shows where it runs).
 */
export async function commandTarget(ctx: OpsContext): Promise<CommandTarget> {
  const answered = ctx.config.components.includes('kafka')
    ? await describeTarget(ctx).catch(() => undefined)
    : undefined;
  return {
    context: ctx.config.context ?? null,
    bootstrapServers: ctx.config.kafka.brokers,
    clusterId: answered?.clusterId ?? null,
  };
}

/** The target line of a command (formatTarget of commandTarget). */
export async function targetLine(ctx: OpsContext): Promise<string> {
  return formatTarget(await commandTarget(ctx));
}
