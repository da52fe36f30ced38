import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ExitCode, OrderbusError } from './errors.js';
import { isObject, unknownKeyError } from './config-parsers.js';
import { FILE_ONLY_KEYS, checkKeys } from './config-schema.js';
import type { Env } from './config-secrets.js';

/**
 * The config file and its contexts (profiles): `{ ...settings, contexts: { staging: {...},
 * prod: {...} }, currentContext: "staging" }`. A context holds any settings (not contexts) and
 * is laid over the file's top level; `--context`, then $ORDERBUS_CONTEXT, then `currentContext`
 * choose it.
 */
export interface ConfigFile {
  path: string;
  /** Undefined when there is no file (the default path and none given). */
  data?: Record<string, unknown>;
}

export interface FileLocation {
  file?: string;
  env?: Env;
  cwd?: string;
}

export function readConfigFile(options: FileLocation, env: Env): ConfigFile {
  const path = resolve(
    options.cwd ?? process.cwd(),
    options.file ?? env.ORDERBUS_CONFIG ?? 'orderbus.config.json',
  );
  if (!existsSync(path)) {
    if (options.file !== undefined || env.ORDERBUS_CONFIG !== undefined)
      throw new OrderbusError('CONFIG_NOT_FOUND', `config file ${path} does not exist`, {
        hint: 'create it, or drop --config / ORDERBUS_CONFIG',
        exitCode: ExitCode.usage,
      });
    return { path };
  }
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new OrderbusError('CONFIG_INVALID', `config file ${path} is not valid JSON`, {
      hint: `fix or remove ${path}`,
      exitCode: ExitCode.usage,
      cause: e,
    });
  }
  if (!isObject(data))
    throw new OrderbusError('CONFIG_INVALID', `config file ${path} must hold a JSON object`, {
      hint: `fix or remove ${path}`,
      exitCode: ExitCode.usage,
    });
  checkKeys(data, path, FILE_ONLY_KEYS);
  for (const [name, ctx] of Object.entries(contextsOf({ path, data }))) {
    if (!isObject(ctx))
      throw new OrderbusError('CONFIG_INVALID', `context ${name} in ${path} must be an object`, {
        hint: 'orderbus context list',
        exitCode: ExitCode.usage,
        subject: name,
      });
    checkKeys(ctx, contextSource(path, name));
  }
  return { path, data };
}

export function contextsOf(file: ConfigFile): Record<string, unknown> {
  const c = file.data?.contexts;
  if (c === undefined) return {};
  if (!isObject(c))
    throw new OrderbusError(
      'CONFIG_INVALID',
      `contexts in ${file.path} must be an object of named contexts`,
      {
        hint: 'orderbus context list',
        exitCode: ExitCode.usage,
      },
    );
  return c;
}

export function contextSource(path: string, name: string): string {
  return `context ${name} in ${path}`;
}

export interface SelectedContext {
  name: string;
  /** How it was chosen: flag, $ORDERBUS_CONTEXT or currentContext. */
  via: string;
  settings: Record<string, unknown>;
}

/** The context the command runs in, if any; an unknown name is a usage error with a did-you-mean. */
export function selectContext(
  file: ConfigFile,
  flag: string | undefined,
  env: Env,
): SelectedContext | undefined {
  const current = file.data?.currentContext;
  const [name, via] =
    flag !== undefined
      ? [flag, '--context']
      : env.ORDERBUS_CONTEXT
        ? [env.ORDERBUS_CONTEXT, '$ORDERBUS_CONTEXT']
        : typeof current === 'string'
          ? [current, `currentContext in ${file.path}`]
          : [undefined, ''];
  if (name === undefined) return undefined;
  const contexts = contextsOf(file);
  const settings = contexts[name];
  if (!isObject(settings))
    throw unknownKeyError('context', name, Object.keys(contexts), via, 'orderbus context list');
  return { name, via, settings };
}

/** Writes `currentContext` into the config file, keeping everything else (atomically: temp + rename). */
export function writeCurrentContext(file: ConfigFile, name: string): void {
  const contexts = contextsOf(file);
  if (!isObject(contexts[name]))
    throw unknownKeyError('context', name, Object.keys(contexts), file.path, 'orderbus context list');
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ ...file.data, currentContext: name }, null, 2)}\n`);
  renameSync(tmp, file.path);
}
