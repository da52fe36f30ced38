import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { projectRoot } from '../../src/paths.js';
import { fmt, machineInfo, summarize, type Benchmark, type Figure } from './harness.js';
import { BENCHMARKS } from './index.js';
import { warmUpBrokers } from './warmup.js';

/**
 * `npm run bench` runs every benchmark against the local stack; `npm run bench -- NAME…` runs
 * some; `npm run bench -- --render` runs none and only rewrites BENCHMARKS.md (after editing
 * NOTES.md). Results are merged into bench-results.json and BENCHMARKS.md is regenerated from it,
 * so a partial run keeps the other benchmarks' last figures (each with its own date). Before the
 * first benchmark the Kafka brokers are warmed up until their JIT is quiet (warmup.ts; seconds on
 * a warm broker, ~30 s after `stack up`); ORDERBUS_BENCH_WARMUP=0 skips it.
 */
interface StoredResult {
  name: string;
  description: string;
  date: string;
  figures: Figure[];
}

async function runOne(b: Benchmark): Promise<StoredResult> {
  process.stderr.write(`bench ${b.name}: ${b.description}\n`);
  await b.setup?.();
  const samples = [];
  try {
    for (let i = 0; i < (b.runs ?? 3); i++) {
      const run = await b.run();
      for (const s of run)
        process.stderr.write(
          `  run ${i + 1}: ${s.metric} = ${fmt(s.value, s.resolution)} ${s.unit}${s.reference ? ` (reference ${s.reference.name} = ${fmt(s.reference.value, s.resolution)})` : ''}\n`,
        );
      samples.push(run);
    }
  } finally {
    await b.teardown?.();
  }
  return {
    name: b.name,
    description: b.description,
    date: new Date().toISOString(),
    figures: summarize(samples),
  };
}

function render(results: StoredResult[], machineNow: Record<string, string>): string {
  // The newest benchmark's date, not the clock's: `--render` runs none.
  const newest =
    results
      .map((r) => r.date)
      .sort()
      .at(-1) ?? '';
  const machine = { ...machineNow, date: newest };
  const lines = [
    '# Benchmarks',
    '',
    'Produced by `npm run bench` (one benchmark: `npm run bench -- NAME`) against the local stack. Each figure is the',
    'median of several runs with min and max; where a reference was measured in the same run, the ratio compares to it',
    '(throughput: ours / reference; latency: reference / ours — so ≥ 1 means at least as good). Benchmarks are not',
    'tests: nothing in `npm test` asserts a time.',
    '',
    `Last run: ${newest}`,
    '',
    '| machine | |',
    '|---|---|',
    ...Object.entries(machine).map(([k, v]) => `| ${k} | ${v} |`),
    '',
  ];
  for (const r of results) {
    lines.push(`## ${r.name}`, '', `${r.description} (run ${r.date})`, '');
    lines.push(
      '| metric | median | min | max | unit | reference | ratio | goal | command |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    for (const f of r.figures) {
      lines.push(
        `| ${f.metric} | ${fmt(f.median, f.resolution)} | ${fmt(f.min, f.resolution)} | ${fmt(f.max, f.resolution)} | ${f.unit} | ${f.reference ? `${f.reference.name}: ${fmt(f.reference.median, f.resolution)}` : '—'} | ${f.ratio !== undefined ? `${(f.ratio * 100).toFixed(0)} %` : '—'} | ${f.goal ?? '—'} | \`${f.command}\` |`,
      );
    }
    lines.push('');
  }
  const notes = join(projectRoot(), 'test', 'bench', 'NOTES.md');
  if (existsSync(notes)) lines.push(readFileSync(notes, 'utf8'));
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !BENCHMARKS.some((b) => b.name === w));
  if (unknown.length > 0) {
    process.stderr.write(
      `error[UNKNOWN_BENCHMARK]: ${unknown.join(', ')}\n  hint: one of ${BENCHMARKS.map((b) => b.name).join(', ')}\n`,
    );
    process.exitCode = 2;
    return;
  }
  // `--render`: no benchmark runs; BENCHMARKS.md is rewritten from bench-results.json and NOTES.md.
  const selected = process.argv.includes('--render')
    ? []
    : wanted.length > 0
      ? BENCHMARKS.filter((b) => wanted.includes(b.name))
      : BENCHMARKS;
  const store = join(projectRoot(), 'bench-results.json');
  const previous: StoredResult[] = existsSync(store)
    ? (JSON.parse(readFileSync(store, 'utf8')) as StoredResult[])
    : [];
  const fresh: StoredResult[] = [];
  if (selected.length > 0 && process.env.ORDERBUS_BENCH_WARMUP !== '0') {
    process.stdout.write('warming up the Kafka brokers (their JIT) before measuring\n');
    const w = await warmUpBrokers(loadConfig(), (line) => process.stdout.write(`${line}\n`));
    process.stdout.write(
      w.skipped
        ? `  warm-up skipped: ${w.skipped}\n`
        : `  warm-up ${w.seconds.toFixed(0)} s; broker JIT seconds ${w.jit.map((j) => `${j.before ?? '?'} → ${j.after ?? '?'}`).join(', ')}\n`,
    );
  }
  for (const b of selected) fresh.push(await runOne(b));
  const merged = BENCHMARKS.map(
    (b) => fresh.find((r) => r.name === b.name) ?? previous.find((r) => r.name === b.name),
  ).filter((r): r is StoredResult => r !== undefined);
  writeFileSync(store, `${JSON.stringify(merged, null, 2)}\n`);
  writeFileSync(join(projectRoot(), 'BENCHMARKS.md'), render(merged, await machineInfo()));
  for (const r of fresh) {
    process.stdout.write(`\n${r.name}\n`);
    for (const f of r.figures) {
      process.stdout.write(
        `  ${f.metric}: ${fmt(f.median, f.resolution)} ${f.unit} [${fmt(f.min, f.resolution)}…${fmt(f.max, f.resolution)}]${f.reference ? `  vs ${f.reference.name} ${fmt(f.reference.median, f.resolution)}  ratio ${(100 * (f.ratio ?? 0)).toFixed(0)} %` : ''}${f.goal ? `  goal: ${f.goal}` : ''}\n`,
      );
    }
  }
  process.stdout.write('\nwrote BENCHMARKS.md and bench-results.json\n');
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    process.stderr.write(
      `error[BENCH_FAILED]: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n  hint: npx orderbus stack status\n`,
    );
    process.exit(1);
  },
);
