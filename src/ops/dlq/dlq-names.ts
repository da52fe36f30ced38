import { managementApi } from '../../adapters/rabbitmq.js';
import type { OpsContext } from '../context.js';
import {
  deadLetterTargets,
  type ApiBinding,
  type ApiExchange,
  type ApiPolicy,
  type ApiQueue,
} from './dead-letter-targets.js';

/**
 * Which topics and queues are DLQs: names matching `dlq.kafkaPatterns` / `dlq.rabbitPatterns`
 * (`*` any characters; defaults `*.dlq`, `*-dlt`, `*.DLT` and `*.dlq`), and on RabbitMQ every
 * queue another queue dead-letters into, by argument or policy (dead-letter-targets.ts).
 */
export function namePattern(patterns: readonly string[]): (name: string) => boolean {
  const res = patterns.map(
    (p) =>
      new RegExp(
        `^${p
          .split('*')
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
      ),
  );
  return (name) => res.some((re) => re.test(name));
}

export async function kafkaDlqNames(ctx: OpsContext): Promise<string[]> {
  const matches = namePattern(ctx.config.dlq.kafkaPatterns);
  return (await ctx.topicNames()).filter(matches).sort();
}

export async function rabbitDlqNames(ctx: OpsContext): Promise<string[]> {
  const vhost = encodeURIComponent(ctx.config.rabbitmq.vhost);
  const api = <T>(path: string) => managementApi<T>(ctx.config, path);
  const queues = await api<ApiQueue[]>(`/queues/${vhost}?columns=name,arguments,effective_policy_definition`);
  const matches = namePattern(ctx.config.dlq.rabbitPatterns);
  const names = new Set(queues.map((q) => q.name).filter(matches));
  const policyDlx = queues.some((q) => q.effective_policy_definition === undefined);
  const [exchanges, bindings, policies] = await Promise.all([
    api<ApiExchange[]>(`/exchanges/${vhost}?columns=name,type`),
    api<ApiBinding[]>(`/bindings/${vhost}?columns=source,destination,destination_type,routing_key`),
    // Only a server that does not report each queue's effective policy needs the policies.
    policyDlx ? api<ApiPolicy[]>(`/policies/${vhost}`) : undefined,
  ]);
  for (const target of deadLetterTargets(queues, exchanges, bindings, policies).keys()) names.add(target);
  return [...names].sort();
}
