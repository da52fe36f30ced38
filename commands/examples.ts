import type { Command } from 'commander';

/**
 * The examples every command's help ends with, in one table beside the registration (so a
 * command added without examples fails the help test). Keyed by the command's path; `context`
 * declares its own in commands/contexts.ts.
 */
export const EXAMPLES: Record<string, string[]> = {
  stack: ['orderbus stack up', 'orderbus stack status', 'orderbus stack down'],
  'stack up': ['orderbus stack up', 'orderbus stack up --brokers 3'],
  'stack down': ['orderbus stack down', 'orderbus stack down --purge'],
  'stack status': ['orderbus stack status', 'orderbus stack status --json'],
  config: ['orderbus config', 'orderbus --context staging config --json'],
  'context list': ['orderbus context list', 'orderbus context list --json'],
  'context show': ['orderbus context show', 'orderbus context show prod --json'],
  'context use': ['orderbus context use staging', 'ORDERBUS_CONTEXT=prod orderbus lag'],
  run: ['orderbus run', 'orderbus run --service payment --service inventory'],
  load: ['orderbus load --rate 50 --duration 2m', 'orderbus load --rate 20 --burst 5 --json'],
  providers: ['orderbus providers', 'orderbus run --no-providers  # the pipeline without them'],
  lag: [
    'orderbus lag --group payment',
    "orderbus lag --format kafka --sample 0 | awk '$6 > 1000'",
    'orderbus lag --fail-on STALL || page-oncall',
  ],
  queues: ['orderbus queues', 'orderbus queues --watch 2'],
  status: ['orderbus status', 'orderbus status --fail-on ERR --json > status.json'],
  metrics: ['orderbus metrics', 'orderbus metrics --listen 0.0.0.0:9464'],
  dlq: ['orderbus dlq list', 'orderbus dlq show order.events.dlq --limit 5'],
  'dlq list': ['orderbus dlq list', 'orderbus dlq list --json'],
  'dlq show': [
    'orderbus dlq show order.events.dlq',
    "orderbus dlq show order.events.dlq --filter 'errorClass=HttpGone'",
  ],
  'dlq redrive': [
    'orderbus dlq redrive order.events.dlq --fix-url http://old.example/=http://new.example/',
    'orderbus dlq redrive order.events.dlq --filter errorClass=HttpGone --execute',
  ],
  'dlq purge': ['orderbus dlq purge order.events.dlq', 'orderbus dlq purge order.events.dlq --execute --yes'],
  offsets: ['orderbus offsets reset --group payment --topic order.events --to-earliest'],
  'offsets reset': [
    'orderbus offsets reset --group payment --topic order.events --by-duration PT15M',
    'orderbus offsets reset --group payment --all-topics --to-latest --export > plan.csv',
    'orderbus offsets reset --group payment --from-file plan.csv --execute',
  ],
  replay: [
    'orderbus replay order.events --from-time 2026-11-23T10:00:00Z --to-topic order.events.sandbox',
    'orderbus replay order.events --from-offset 100 --partition 2 --group payment --execute',
  ],
  read: [
    'orderbus read order.events --last 5',
    'orderbus read order.events --partition 2 --from-time 15m --until 5m --json',
    "orderbus read order.events --key order-42 --filter 'headers.type=OrderPlaced' --follow",
  ],
  trace: ['orderbus trace 0f8b2c3e-…', 'orderbus trace 0f8b2c3e-… --json'],
  audit: ['orderbus audit --since 2h', "orderbus audit --command 'offsets reset' --json"],
  console: ['orderbus console', 'orderbus console --refresh 5'],
  demo: ['orderbus demo', 'orderbus demo --brokers 3 --rate 50'],
  chaos: ['orderbus chaos list', 'orderbus chaos run kafka-broker-kill --duration 30s'],
  'chaos list': ['orderbus chaos list', 'orderbus chaos list --json'],
  'chaos run': [
    'orderbus chaos run kafka-broker-kill',
    'orderbus chaos run rabbitmq-restart --duration 1m --json',
  ],
  completion: ['source <(orderbus completion bash)', 'orderbus completion zsh > "${fpath[1]}/_orderbus"'],
};

/** Ends the help of every command in the tree with its examples. */
export function addExamples(cmd: Command, path = ''): void {
  for (const sub of cmd.commands) {
    const p = path ? `${path} ${sub.name()}` : sub.name();
    const examples = EXAMPLES[p];
    if (examples) sub.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}`);
    addExamples(sub, p);
  }
}
