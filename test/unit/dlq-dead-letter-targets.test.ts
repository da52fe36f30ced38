import { describe, expect, it } from 'vitest';
import { deadLetterTargets, topicMatches, type ApiBinding } from '../../src/ops/dlq/dead-letter-targets.js';
import { namePattern } from '../../src/ops/dlq/dlq-names.js';

// Which RabbitMQ queues are dead-letter targets, from the management API's queues, exchanges and bindings.
const bind = (source: string, destination: string, routing_key: string): ApiBinding => ({
  source,
  destination,
  destination_type: 'queue',
  routing_key,
});
const exchanges = [
  { name: 'dlx.fanout', type: 'fanout' },
  { name: 'dlx.direct', type: 'direct' },
  { name: 'dlx.topic', type: 'topic' },
  { name: 'tasks', type: 'direct' },
];

describe('RabbitMQ dead-letter targets', () => {
  it('by argument, through a fanout, a direct (routing key or the queue own keys) and a topic exchange, or the default exchange', () => {
    const targets = deadLetterTargets(
      [
        { name: 'a', arguments: { 'x-dead-letter-exchange': 'dlx.fanout' } },
        {
          name: 'b',
          arguments: { 'x-dead-letter-exchange': 'dlx.direct', 'x-dead-letter-routing-key': 'b.dead' },
        },
        { name: 'c', arguments: { 'x-dead-letter-exchange': 'dlx.direct' } },
        {
          name: 'd',
          arguments: { 'x-dead-letter-exchange': 'dlx.topic', 'x-dead-letter-routing-key': 'eu.d.failed' },
        },
        { name: 'e', arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'e-parking' } },
        { name: 'a-dead' },
        { name: 'b-dead' },
        { name: 'c-dead' },
        { name: 'd-dead' },
        { name: 'e-parking' },
        { name: 'unrelated' },
      ],
      exchanges,
      [
        bind('dlx.fanout', 'a-dead', ''),
        bind('dlx.direct', 'b-dead', 'b.dead'),
        bind('dlx.direct', 'unrelated', 'other'),
        bind('tasks', 'c', 'c.key'),
        bind('dlx.direct', 'c-dead', 'c.key'),
        bind('dlx.topic', 'd-dead', '*.d.#'),
      ],
    );
    expect(Object.fromEntries(targets)).toEqual({
      'a-dead': ['a'],
      'b-dead': ['b'],
      'c-dead': ['c'],
      'd-dead': ['d'],
      'e-parking': ['e'],
    });
  });

  it('by policy: the effective policy, or the highest priority matching one from /api/policies', () => {
    const queues = [
      { name: 'billing.invoices', effective_policy_definition: { 'dead-letter-exchange': 'dlx.fanout' } },
      { name: 'x' },
    ];
    expect([...deadLetterTargets(queues, exchanges, [bind('dlx.fanout', 'x', '')]).keys()]).toEqual(['x']);
    const policies = [
      {
        name: 'low',
        pattern: '^billing\\.',
        'apply-to': 'queues',
        priority: 0,
        definition: { 'dead-letter-exchange': 'nowhere' },
      },
      {
        name: 'high',
        pattern: '^billing\\.',
        'apply-to': 'all',
        priority: 5,
        definition: { 'dead-letter-exchange': 'dlx.fanout' },
      },
      {
        name: 'exchanges',
        pattern: '.*',
        'apply-to': 'exchanges',
        priority: 9,
        definition: { 'dead-letter-exchange': 'x' },
      },
    ];
    const old = [{ name: 'billing.invoices' }, { name: 'x' }];
    expect([...deadLetterTargets(old, exchanges, [bind('dlx.fanout', 'x', '')], policies).keys()]).toEqual([
      'x',
    ]);
  });

  it("a TTL retry queue feeding its work queue back is no failure path (orderbus's *.retry.N)", () => {
    const targets = deadLetterTargets(
      [
        {
          name: 'webhook.tasks',
          arguments: {
            'x-dead-letter-exchange': 'dlx.direct',
            'x-dead-letter-routing-key': 'webhook.tasks.dlq',
          },
        },
        { name: 'webhook.tasks.dlq' },
        {
          name: 'webhook.tasks.retry.5000',
          arguments: {
            'x-message-ttl': 5000,
            'x-dead-letter-exchange': 'tasks',
            'x-dead-letter-routing-key': 'webhook.tasks',
          },
        },
      ],
      exchanges,
      [
        bind('dlx.direct', 'webhook.tasks.dlq', 'webhook.tasks.dlq'),
        bind('tasks', 'webhook.tasks', 'webhook.tasks'),
      ],
    );
    expect([...targets.keys()]).toEqual(['webhook.tasks.dlq']);
  });

  it('a retry tier named after a work queue without a DLQ of its own feeds it back; a TTL queue expiring into another queue is a failure path', () => {
    const targets = deadLetterTargets(
      [
        { name: 'analytics.tasks', arguments: { 'x-message-ttl': 60_000 } },
        {
          name: 'analytics.tasks.retry.5000',
          arguments: {
            'x-message-ttl': 5000,
            'x-dead-letter-exchange': 'tasks',
            'x-dead-letter-routing-key': 'analytics.tasks',
          },
        },
        {
          name: 'offers.pending',
          arguments: {
            'x-message-ttl': 60_000,
            'x-dead-letter-exchange': '',
            'x-dead-letter-routing-key': 'offers.expired',
          },
        },
        { name: 'offers.expired' },
      ],
      exchanges,
      [bind('tasks', 'analytics.tasks', 'analytics.tasks')],
    );
    expect(Object.fromEntries(targets)).toEqual({ 'offers.expired': ['offers.pending'] });
  });

  it.each([
    ['*.d.#', 'eu.d.failed', true],
    ['*.d.#', 'eu.d', true],
    ['*.d', 'eu.d.failed', false],
    ['#', 'anything.at.all', true],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.c', false],
  ])('topic pattern %s matches %s: %s', (pattern, key, expected) => {
    expect(topicMatches(pattern, key)).toBe(expected);
  });

  it('name patterns: * is any characters, the rest is literal', () => {
    const m = namePattern(['*.dlq', '*-dlt', '*.DLT']);
    expect(['order.events.dlq', 'payments-dlt', 'payments.requests.DLT'].every(m)).toBe(true);
    expect(['order.events', 'orderbus.dlq-cursor', 'xdlq', 'a.dlt'].some(m)).toBe(false);
  });
});
