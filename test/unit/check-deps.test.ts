import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
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

/**
 * One planted violation per row: the rule that must catch it | the one file added or replaced | its
 * import. The cycle: config.ts imports paths.ts at run time, paths.ts a type back (once missed).
 */
const PLANTED = `
product-imports-ops           | src/pipeline/order.ts | import type { lag } from '../ops/lag.js';
product-imports-devstack      | src/pipeline/order.ts | import { up } from '../devstack/stack.js';
ops-imports-devstack          | src/ops/status.ts     | import { up } from '../devstack/stack.js';
src-imports-cli               | src/runtime/runner.ts | import { run } from '../../commands/lag.js';
commands-ui-import-each-other | ui/lag-view.tsx       | import { run } from '../commands/lag.js';
commands-ui-import-each-other | commands/console.ts   | export * from '../ui/app.js';
cli-imports-driver            | commands/topics.ts    | import { Kafka } from 'kafkajs';
cli-imports-driver            | ui/db.tsx             | import type { Pool } from 'pg/lib/pool';
cli-imports-adapter           | ui/topics.tsx         | import { k } from '../src/adapters/kafka.js';
ui-imports-devstack           | ui/stack.tsx          | import { up } from '../src/devstack/stack.js';
shipped-imports-test          | src/pipeline/wait.ts  | import { waitFor } from '../../test/support/wait.js';
shipped-imports-test          | bin/sample.ts         | import sample from '../fixtures/sample.json' with { type: 'json' };
import-cycle                  | src/paths.ts          | import type { Config } from './config.js';
`
  .trim()
  .split('\n')
  .map((row) => {
    const [rule = '', file = '', statement = ''] = row.split('|').map((cell) => cell.trim());
    return { rule, file, statement, files: { [file]: `${statement}\n` } };
  });

interface Checked {
  status: number | null;
  output: string;
}

/** Writes the tree to a temporary directory and runs the script on it, as CI does. */
function checkTree(files: Record<string, string>): Promise<Checked> {
  const root = mkdtempSync(join(tmpdir(), 'orderbus-deps-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return new Promise((done) => {
    execFile(process.execPath, [SCRIPT, root], { timeout: 60_000 }, (error, stdout, stderr) => {
      rmSync(root, { recursive: true, force: true });
      done({
        status: error ? (typeof error.code === 'number' ? error.code : null) : 0,
        output: stdout + stderr,
      });
    });
  });
}

const rulesNamed = (output: string) => [...new Set([...output.matchAll(/^\[([\w-]+)\]/gm)].map((m) => m[1]))];

describe('scripts/check-deps.mjs', () => {
  // Every case is a node process loading TypeScript's scanner: all run up front, two at a time
  // (the machine's cores), and the tests read the results.
  const trees = [CLEAN, ...PLANTED.map((p) => ({ ...CLEAN, ...p.files }))];
  const results: Checked[] = [];
  beforeAll(async () => {
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < trees.length; i = next++) results[i] = await checkTree(trees[i] ?? {});
    };
    await Promise.all([worker(), worker()]);
  }, 180_000);

  it('passes a tree that only imports in the allowed directions', () => {
    expect(results[0]?.output).toContain('no forbidden imports, no cycles');
    expect(results[0]?.status).toBe(0);
  });

  it.each(PLANTED.map((p, i) => ({ ...p, i: i + 1 })))(
    'fails naming $rule when $file has: $statement',
    ({ rule, i }) => {
      expect(results[i]?.status).toBe(1);
      expect(rulesNamed(results[i]?.output ?? '')).toEqual([rule]);
    },
  );

  it('names the file and line of the import', () => {
    const opsCase = 1 + PLANTED.findIndex((p) => p.rule === 'ops-imports-devstack');
    expect(results[opsCase]?.output).toMatch(
      /^\[ops-imports-devstack\] src\/ops\/status\.ts:1: .*'\.\.\/devstack\/stack\.js'/m,
    );
  });
});
