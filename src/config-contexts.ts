import { loadConfigWithSources, type LoadConfigOptions } from './config.js';
import { contextsOf, readConfigFile, selectContext, writeCurrentContext } from './config-file.js';
import { errorMessage, usageError } from './errors.js';
import { redact } from './redact.js';

/** One context of the config file as `orderbus context list|show` shows it (secrets redacted). */
export interface ContextSummary {
  name: string;
  /** The one commands use now (by --context, $ORDERBUS_CONTEXT or currentContext). */
  current: boolean;
  bootstrapServers?: string[];
  clusterId?: string | null;
  readOnly?: boolean;
  security?: string;
  /** Why this context cannot be loaded (a missing secret, a bad value). */
  error?: string;
}

export interface ContextDetail extends ContextSummary {
  file: string;
  /** The context's own settings as written (secrets masked), and where every key's value comes from. */
  settings: Record<string, unknown>;
  sources: Record<string, string>;
}

const env = (o: LoadConfigOptions) => o.env ?? process.env;

export function listContexts(options: LoadConfigOptions = {}): { file: string; contexts: ContextSummary[] } {
  const file = readConfigFile(options, env(options));
  const current = selectContext(file, options.context, env(options))?.name;
  const names = Object.keys(contextsOf(file));
  return { file: file.path, contexts: names.map((name) => summary(name, name === current, options)) };
}

export function showContext(options: LoadConfigOptions, name?: string): ContextDetail {
  const file = readConfigFile(options, env(options));
  const current = selectContext(file, options.context, env(options))?.name;
  const chosen = name ?? current;
  // Selecting by name validates it (unknown → did-you-mean) even when it is not the current one.
  const ctx = chosen === undefined ? undefined : selectContext(file, chosen, env(options));
  if (!ctx)
    throw usageError(
      'NO_CONTEXT',
      `no context is selected in ${file.path}`,
      'orderbus context list, then orderbus context use NAME (or --context NAME)',
    );
  const { sources } = loadConfigWithSources({ ...options, context: ctx.name });
  return {
    ...summary(ctx.name, ctx.name === current, options),
    file: file.path,
    settings: redact(ctx.settings),
    // Only what is not a default: where this context's effective values come from.
    sources: Object.fromEntries(
      Object.entries(sources).filter(([k, v]) => k !== 'context' && v !== 'default'),
    ),
  };
}

export function useContext(options: LoadConfigOptions, name: string): { file: string; context: string } {
  const file = readConfigFile(options, env(options));
  writeCurrentContext(file, name);
  return { file: file.path, context: name };
}

function summary(name: string, current: boolean, options: LoadConfigOptions): ContextSummary {
  try {
    const { config: c } = loadConfigWithSources({ ...options, context: name });
    const tls = typeof c.kafka.ssl === 'boolean' ? c.kafka.ssl : c.kafka.ssl.enabled;
    const security = `${c.kafka.sasl ? 'SASL_' : ''}${tls ? 'SSL' : 'PLAINTEXT'}${c.kafka.sasl ? ` ${c.kafka.sasl.mechanism}` : ''}`;
    return {
      name,
      current,
      bootstrapServers: c.kafka.brokers,
      clusterId: c.kafka.clusterId ?? null,
      readOnly: c.readOnly,
      security,
    };
  } catch (e) {
    return { name, current, error: redact(errorMessage(e)) };
  }
}
