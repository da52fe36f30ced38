import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (where package.json is), whether running from src/ or dist/. */
export function projectRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(join('dist', 'src')) ? resolve(here, '..', '..') : resolve(here, '..');
}

/** Data, logs, rollback files and the local stack's state (ignored by git). */
export function dataDir(config: { stack: { dir: string } }): string {
  return isAbsolute(config.stack.dir) ? config.stack.dir : join(projectRoot(), config.stack.dir);
}

/** Jar cache outside the work tree, so a fresh clone on the same machine starts offline-fast. */
export function cacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.cache'), 'orderbus');
}

/**
 * The configuration layer the local stack leaves for the other commands (its brokers, its
 * replication factor): a plain config file, so the configuration reads no launcher state.
 */
export function localStackConfigFile(config: { stack: { dir: string } }): string {
  return join(dataDir(config), 'local-stack.config.json');
}
