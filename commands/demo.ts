import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { noColor } from '../src/config.js';
import { OrderbusError } from '../src/errors.js';
import { projectRoot, dataDir } from '../src/paths.js';
import { configFrom, type OpenConsole } from './context.js';
import { parseBrokers, parseNumber } from './options.js';
import { log } from './output.js';

/**
 * `orderbus demo` (what `npm start` runs): the stack up, the whole pipeline running, a steady
 * load of orders, and the console on top. Without a terminal it prints `status` every few
 * seconds instead of the console.
 */
export function defineDemo(program: Command, openConsole: OpenConsole): void {
  program
    .command('demo')
    .description('stack up, run the pipeline under a steady load, and open the console (npm start)')
    .option('--rate <n>', 'orders per second', '20')
    .option('--brokers <n>', 'Kafka brokers: 1 or 3', '1')
    .action(async (opts: { rate: string; brokers: string }, cmd: Command) => {
      const rate = parseNumber(opts.rate, '--rate', 'npm start -- --rate 20');
      const brokers = parseBrokers(opts.brokers, 'npm start -- --brokers 3');
      const config = configFrom(cmd);
      const { stackUp } = await import('../src/devstack/stack/stack.js');
      const up = await stackUp(config, { brokers, log: (s) => log(s) });
      log(`stack up in ${up.seconds.toFixed(1)}s`);
      const logs = join(dataDir(config), 'logs');
      mkdirSync(logs, { recursive: true });
      const bin = join(projectRoot(), 'bin', 'orderbus');
      const children: ChildProcess[] = [];
      const start = (name: string, args: string[]) => {
        const out = openSync(join(logs, `demo-${name}.log`), 'a');
        const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', out, out] });
        children.push(child);
        log(`started ${name} (pid ${child.pid ?? '?'}), log ${join(logs, `demo-${name}.log`)}`);
        return child;
      };
      const stopAll = () => {
        for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
      };
      process.once('exit', stopAll);
      try {
        const runner = start('pipeline', ['run']);
        const checkout = `http://${config.http.host}:${config.http.checkoutPort}/health`;
        const deadline = Date.now() + 60_000;
        for (;;) {
          if (runner.exitCode !== null)
            throw new OrderbusError('PIPELINE_EXITED', `orderbus run exited with ${runner.exitCode}`, {
              hint: `cat ${join(logs, 'demo-pipeline.log')}`,
            });
          const ok = await fetch(checkout, { signal: AbortSignal.timeout(1000) }).then(
            (r) => r.ok,
            () => false,
          );
          if (ok) break;
          if (Date.now() > deadline)
            throw new OrderbusError(
              'PIPELINE_NOT_READY',
              `the checkout API did not answer at ${checkout} within 60s`,
              {
                hint: `cat ${join(logs, 'demo-pipeline.log')}`,
              },
            );
          await new Promise((r) => setTimeout(r, 500));
        }
        start('load', ['load', '--rate', String(rate), '--duration', '0']);
        if (process.stdout.isTTY && process.stdin.isTTY) {
          await openConsole(config, { refreshMs: 2000, color: !noColor() });
        } else {
          log('no terminal: printing orderbus status every 10s instead of the console (Ctrl-C stops)');
          const { withOps } = await import('../src/ops/context.js');
          const { statusReport } = await import('../src/ops/status.js');
          let stop = false;
          process.once('SIGINT', () => (stop = true));
          process.once('SIGTERM', () => (stop = true));
          while (!stop) {
            const s = await withOps(config, (ctx) => statusReport(ctx));
            const lag = s.groups.map((g) => `${g.group}:${g.totalLag}`).join(' ');
            const q = s.queues
              .filter((x) => x.role === 'work')
              .map((x) => `${x.name}:${x.ready}`)
              .join(' ');
            log(`${s.at} ${s.healthy ? 'healthy' : 'problems'} · lag ${lag} · queues ${q}`);
            for (let i = 0; i < 100 && !stop; i++) await new Promise((r) => setTimeout(r, 100));
          }
        }
      } finally {
        stopAll();
        log('pipeline and load stopped; the stack keeps running (orderbus stack down stops it)');
      }
    });
}
