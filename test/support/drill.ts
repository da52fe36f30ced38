import { expect } from 'vitest';
import { reportLine, type DrillReport } from '../../src/devstack/chaos/report.js';
import { runCli } from './cli.js';

export interface DrillRun {
  code: number;
  report: DrillReport;
  stderr: string;
}

/**
 * `orderbus chaos run SCENARIO ARGS --json` through the real CLI: its report, with the report
 * line, any handle it left open and its warnings written to the test's stderr (CI shows them).
 */
export async function runDrill(
  scenario: string,
  args: string[],
  env: Record<string, string>,
): Promise<DrillRun> {
  const r = await runCli(['chaos', 'run', scenario, ...args], {
    env: { ORDERBUS_DEBUG_HANDLES: '1', ...env },
    // Below the test's own timeout, so a drill that hangs fails with its progress lines (stderr).
    timeoutMs: 240_000,
  });
  let report: DrillReport;
  try {
    report = JSON.parse(r.stdout) as DrillReport;
  } catch {
    throw new Error(`chaos run ${scenario} printed no report (exit ${r.code}):\n${r.stderr.slice(-3000)}`);
  }
  process.stderr.write(`${reportLine(report)}\n`);
  // A handle the drill left open (the CLI exits anyway, after a grace period) is named here.
  for (const l of r.stderr.split('\n').filter((l) => l.startsWith('orderbus: still open')))
    process.stderr.write(`  ${l}\n`);
  for (const w of report.warnings) process.stderr.write(`  warning: ${w}\n`);
  return { code: r.code, report, stderr: r.stderr };
}

/** Every invariant held, orders were placed and completed, and no service process crashed. */
export function expectPass(r: DrillRun): void {
  const broken = r.report.invariants.filter((i) => !i.ok).map((i) => `${i.name}: ${i.detail}`);
  expect(broken, `${JSON.stringify(r.report.observed)}\n${r.stderr.slice(-2000)}`).toEqual([]);
  expect(r.report.verdict).toBe('PASS');
  expect(r.code).toBe(0);
  expect(r.report.orders.placed).toBeGreaterThan(20);
  expect(r.report.orders.completed).toBeGreaterThan(0);
  expect(r.report.warnings.filter((w) => w.startsWith('service crashed'))).toEqual([]);
}
