import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OrderbusConfig } from '../config.js';

/** The repository root (where package.json is), whether running from src/ or dist/. */
export function projectRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(join('dist', 'src')) ? resolve(here, '..', '..', '..') : resolve(here, '..', '..');
}

/** Data, logs and PID state of the local stack (ignored by git). */
export function stackDir(config: OrderbusConfig): string {
  return isAbsolute(config.stack.dir) ? config.stack.dir : join(projectRoot(), config.stack.dir);
}

/** Jar cache outside the work tree, so a fresh clone on the same machine starts offline-fast. */
export function cacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.cache'), 'orderbus');
}
