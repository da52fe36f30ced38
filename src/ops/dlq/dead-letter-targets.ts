/**
 * Which RabbitMQ queues are dead-letter targets of other queues, from the management API's
 * queues (arguments, effective policy), exchanges and bindings. A queue dead-letters through
 * `x-dead-letter-exchange` (argument, which wins) or a policy's `dead-letter-exchange`, with
 * `x-dead-letter-routing-key` / `dead-letter-routing-key` or else the message's own routing keys
 * (approximated by the keys the queue is bound with, and its name for the default exchange);
 * the exchange's type and bindings say which queues that reaches.
 * https://www.rabbitmq.com/docs/dlx
 */
export interface ApiQueue {
  name: string;
  arguments?: Record<string, unknown>;
  /** The definition of the policy that applies (absent on servers that do not report it). */
  effective_policy_definition?: Record<string, unknown> | [];
}

export interface ApiExchange {
  name: string;
  type: string;
}

export interface ApiBinding {
  source: string;
  destination: string;
  destination_type: string;
  routing_key: string;
}

export interface ApiPolicy {
  name: string;
  pattern: string;
  'apply-to': string;
  priority: number;
  definition: Record<string, unknown>;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The policy RabbitMQ applies to a queue: the highest priority one whose pattern matches its name. */
export function policyFor(queue: string, policies: ApiPolicy[]): Record<string, unknown> {
  const applies = policies
    .filter((p) => ['queues', 'all', 'classic_queues', 'quorum_queues'].includes(p['apply-to']))
    .filter((p) => {
      try {
        return new RegExp(p.pattern).test(queue);
      } catch {
        return false;
      }
    })
    .sort((a, b) => b.priority - a.priority);
  return applies[0]?.definition ?? {};
}

/** A routing key matched against a topic exchange's binding pattern (`*` one word, `#` zero or more). */
export function topicMatches(pattern: string, key: string): boolean {
  const match = (p: string[], k: string[]): boolean => {
    if (p.length === 0) return k.length === 0;
    const [head, ...rest] = p;
    if (head === '#') return match(rest, k) || (k.length > 0 && match(p, k.slice(1)));
    if (k.length === 0) return false;
    return (head === '*' || head === k[0]) && match(rest, k.slice(1));
  };
  return match(pattern.split('.'), key.split('.'));
}

interface DeadLettering {
  exchange: string;
  routingKey: string | undefined;
  ttl: boolean;
}

function deadLetteringOf(q: ApiQueue, policies: ApiPolicy[] | undefined): DeadLettering | undefined {
  const args = q.arguments ?? {};
  const effective = q.effective_policy_definition;
  const policy =
    Array.isArray(effective) || effective === undefined ? policyFor(q.name, policies ?? []) : effective;
  const exchange = str(args['x-dead-letter-exchange']) ?? str(policy['dead-letter-exchange']);
  if (exchange === undefined) return undefined;
  return {
    exchange,
    routingKey: str(args['x-dead-letter-routing-key']) ?? str(policy['dead-letter-routing-key']),
    ttl: args['x-message-ttl'] !== undefined || policy['message-ttl'] !== undefined,
  };
}

/**
 * Every dead-letter target with the queues that dead-letter into it. A queue with a message TTL
 * that dead-letters into a queue which itself dead-letters elsewhere, or into the queue its name
 * extends (`<queue>.retry.5000` → `<queue>`), is a retry delay feeding its work queue back
 * (orderbus's `*.retry.N`, also for a work queue without a DLQ of its own), not a failure path:
 * that work queue is no target.
 */
export function deadLetterTargets(
  queues: ApiQueue[],
  exchanges: ApiExchange[],
  bindings: ApiBinding[],
  policies?: ApiPolicy[],
): Map<string, string[]> {
  const names = new Set(queues.map((q) => q.name));
  const typeOf = new Map(exchanges.map((e) => [e.name, e.type]));
  const lettering = new Map(queues.map((q) => [q.name, deadLetteringOf(q, policies)]));
  const toQueues = bindings.filter((b) => b.destination_type === 'queue');
  const out = new Map<string, string[]>();
  for (const q of queues) {
    const dl = lettering.get(q.name);
    if (!dl) continue;
    const keys =
      dl.routingKey !== undefined
        ? [dl.routingKey]
        : [q.name, ...toQueues.filter((b) => b.destination === q.name).map((b) => b.routing_key)];
    const bound = toQueues.filter((b) => b.source === dl.exchange);
    const type = typeOf.get(dl.exchange);
    const reached =
      dl.exchange === ''
        ? keys.filter((k) => names.has(k))
        : type === 'direct'
          ? bound.filter((b) => keys.includes(b.routing_key)).map((b) => b.destination)
          : type === 'topic'
            ? bound.filter((b) => keys.some((k) => topicMatches(b.routing_key, k))).map((b) => b.destination)
            : bound.map((b) => b.destination); // fanout, headers, plugins: every bound queue may get it
    for (const target of new Set(reached)) {
      const retryTier = dl.ttl && (lettering.get(target) !== undefined || q.name.startsWith(`${target}.`));
      if (target === q.name || retryTier) continue;
      out.set(target, [...(out.get(target) ?? []), q.name]);
    }
  }
  return out;
}
