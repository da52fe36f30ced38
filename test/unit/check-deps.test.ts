import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';

const SCRIPT = join(projectRoot(), 'scripts', 'check-deps.mjs');

/** A tree that uses every allowed direction once: the dev stack and commands may use ops and the product. */
const CLEAN: Record<string, string> = {
  'src/errors.ts': `export class OrderbusError extends Error {}\n`,
  'src/config.ts': `import { dataDir } from './paths.js';\nexport interface Config { dir: string }\nexport const dir = dataDir();\n`,
  'src/paths.ts': `export const dataDir = () => '.orderbus';\n`,
  'src/adapters/kafka.ts': `import { Kafka } from 'kafkajs';\nimport { OrderbusError } from '../errors.js';\nexport const k = [Kafka, OrderbusError];\n`,
  'src/ops/lag.ts': `import type { Config } from '../config.js';\nimport { k } from '../adapters/kafka.js';\nexport const lag = (c: Config) => [c, k];\n`,
  'src/devstack/stack.ts': `import { lag } from '../ops/lag.js';\nimport { OrderbusError } from '../errors.js';\nexport const up = [lag, OrderbusError];\n`,
  'commands/lag.ts': `import { lag } from '../src/ops/lag.js';\nimport { up } from '../src/devstack/stack.js';\nimport client from 'prom-client';\nexport const run = [lag, up, client];\n`,
  'ui/app.tsx': `import { lag } from '../src/ops/lag.js';\nexport const App = () => lag;\n`,
  'bin/main.ts': `import { run } from '../commands/lag.js';\nexport const main = () => [run, await import('../ui/app.js')];\n`,
  'test/support/wait.ts': `export const waitFor = () => undefined;\n`,
  'test/unit/lag.test.ts': `import { k } from '../../src/adapters/kafka.js';\nimport pg from 'pg';\nimport { waitFor } from '../support/wait.js';\nexport const t = [k, pg, waitFor];\n`,
};

/** One planted violation per case: the files to add or replace, and the rule that must catch it. */
const PLANTED: { rule: string; what: string; files: Record<string, string> }[] = [
  {
    rule: 'product-imports-ops',
    what: 'a pipeline module imports a type from src/ops',
    files: {
      'src/pipeline/order.ts': `import type { lag } from '../ops/lag.js';\nexport type L = typeof lag;\n`,
    },
  },
  {
    rule: 'product-imports-devstack',
    what: 'a pipeline module imports the launcher',
    files: { 'src/pipeline/order.ts': `import { up } from '../devstack/stack.js';\nexport const o = up;\n` },
  },
  {
    rule: 'ops-imports-devstack',
    what: 'an ops module imports the launcher',
    files: { 'src/ops/status.ts': `import { up } from '../devstack/stack.js';\nexport const s = up;\n` },
  },
  {
    rule: 'src-imports-cli',
    what: 'a runtime module imports a command',
    files: {
      'src/runtime/runner.ts': `import { run } from '../../commands/lag.js';\nexport const r = run;\n`,
    },
  },
  {
    rule: 'commands-ui-import-each-other',
    what: 'ui/ imports commands/',
    files: { 'ui/lag-view.tsx': `import { run } from '../commands/lag.js';\nexport const v = run;\n` },
  },
  {
    rule: 'commands-ui-import-each-other',
    what: 'commands/ imports ui/',
    files: { 'commands/console.ts': `export * from '../ui/app.js';\n` },
  },
  {
    rule: 'cli-imports-driver',
    what: 'a command imports kafkajs',
    files: { 'commands/topics.ts': `import { Kafka } from 'kafkajs';\nexport const t = Kafka;\n` },
  },
  {
    rule: 'cli-imports-driver',
    what: 'the console imports a file inside pg',
    files: { 'ui/db.tsx': `import type { Pool } from 'pg/lib/pool';\nexport type P = Pool;\n` },
  },
  {
    rule: 'cli-imports-adapter',
    what: 'the console imports an adapter',
    files: { 'ui/topics.tsx': `import { k } from '../src/adapters/kafka.js';\nexport const t = k;\n` },
  },
  {
    rule: 'ui-imports-devstack',
    what: 'the console imports the launcher',
    files: { 'ui/stack.tsx': `import { up } from '../src/devstack/stack.js';\nexport const s = up;\n` },
  },
  {
    rule: 'shipped-imports-test',
    what: 'a pipeline module imports test support',
    files: {
      'src/pipeline/wait.ts': `import { waitFor } from '../../test/support/wait.js';\nexport const w = waitFor;\n`,
    },
  },
  {
    rule: 'shipped-imports-test',
    what: 'the CLI wiring imports a fixture',
    files: {
      'bin/sample.ts': `import sample from '../fixtures/sample.json' with { type: 'json' };\nexport const s = sample;\n`,
    },
  },
  {
    rule: 'import-cycle',
    what: 'config.ts and paths.ts import each other, one side type-only',
    files: {
      'src/paths.ts': `import type { Config } from './config.js';\nexport const dataDir = (c?: Config) => c?.dir ?? '.orderbus';\n`,
    },
  },
];

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Writes the tree to a temporary directory and runs the script on it, as CI does. */
function checkTree(files: Record<string, string>): { status: number | null; output: string } {
  const root = mkdtempSync(join(tmpdir(), 'orderbus-deps-'));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const r = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const rulesNamed = (output: string) => [...new Set([...output.matchAll(/^\[([\w-]+)\]/gm)].map((m) => m[1]))];

// Each case starts a node process that loads TypeScript's scanner: slower than 5 s on a busy machine.
describe('scripts/check-deps.mjs', { timeout: 30_000 }, () => {
  it('passes a tree that only imports in the allowed directions', () => {
    const r = checkTree(CLEAN);
    expect(r.output).toContain('no forbidden imports, no cycles');
    expect(r.status).toBe(0);
  });

  it.each(PLANTED)('fails naming $rule when $what', ({ rule, files }) => {
    const r = checkTree({ ...CLEAN, ...files });
    expect(r.status).toBe(1);
    expect(rulesNamed(r.output)).toEqual([rule]);
  });

  it('names the file and line of the import', () => {
    const r = checkTree({ ...CLEAN, ...PLANTED[2]?.files });
    expect(r.output).toMatch(
      /^\[ops-imports-devstack\] src\/ops\/status\.ts:1: .*'\.\.\/devstack\/stack\.js'/m,
    );
  });
});
