import { readFileSync } from 'node:fs';
import { ExitCode, OrderbusError, errorMessage } from './errors.js';
import { parsers } from './config-parsers.js';
import { registerSecret } from './redact.js';

export type Env = Record<string, string | undefined>;

/**
 * A secret may be written as `password` (literal), `passwordFile` (a file that holds it, e.g. a
 * mounted Kubernetes secret) or `passwordEnv` (the name of an environment variable that holds
 * it). Whatever is read is registered with redact(), so it is masked wherever it would be shown.
 */
export function secretKeys(field: string): string[] {
  return [field, `${field}File`, `${field}Env`];
}

export function readSecret(
  key: string,
  o: Record<string, unknown>,
  field: string,
  src: string,
  env: Env,
): string | undefined {
  const given = secretKeys(field).filter((k) => o[k] !== undefined);
  if (given.length > 1) {
    throw new OrderbusError(
      'CONFIG_INVALID',
      `config ${key}: give only one of ${given.join(', ')} (${src})`,
      {
        hint: 'orderbus config',
        exitCode: ExitCode.usage,
        subject: key,
      },
    );
  }
  const [which] = given;
  if (which === undefined) return undefined;
  let value: string | undefined;
  if (which === field) value = parsers.string(`${key}.${field}`, o[field], src);
  else if (which.endsWith('File'))
    value = secretFromFile(`${key}.${which}`, parsers.path(`${key}.${which}`, o[which], src), src);
  else {
    const name = parsers.string(`${key}.${which}`, o[which], src);
    value = env[name];
    if (value === undefined || value === '')
      throw new OrderbusError(
        'CONFIG_SECRET_MISSING',
        `config ${key}.${which} from ${src}: $${name} is not set`,
        {
          hint: `export ${name}=… (or use ${field}File)`,
          exitCode: ExitCode.usage,
          subject: `${key}.${which}`,
        },
      );
  }
  registerSecret(value);
  return value;
}

/** The file's content without its trailing newline; the error names the file, never its content. */
export function secretFromFile(key: string, file: string, src: string): string {
  try {
    const value = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    if (value === '') throw new Error('the file is empty');
    registerSecret(value);
    return value;
  } catch (e) {
    throw new OrderbusError(
      'CONFIG_SECRET_UNREADABLE',
      `config ${key} from ${src}: cannot read ${file}: ${errorMessage(e)}`,
      {
        hint: `check that ${file} exists and is readable`,
        exitCode: ExitCode.usage,
        subject: key,
      },
    );
  }
}

/**
 * A CA, certificate or key file named by the config, read when a client is built (so `orderbus
 * config` works on a machine without it); the error names the key and the file.
 */
export function readConfigPath(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new OrderbusError(
      'CONFIG_FILE_UNREADABLE',
      `config ${key}: cannot read ${file}: ${errorMessage(e)}`,
      {
        hint: `check the path, then orderbus config`,
        exitCode: ExitCode.usage,
        subject: key,
      },
    );
  }
}
