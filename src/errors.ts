/** Exit codes of the CLI contract (shared/DESIGN.md). */
export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  unsafe: 3,
  partial: 4,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface OrderbusErrorOptions {
  /** The next command an operator should run. */
  hint?: string;
  exitCode?: ExitCodeValue;
  retriable?: boolean;
  cause?: unknown;
  /** What the error concerns: a broker address, topic, group, queue… */
  subject?: string;
  details?: Record<string, unknown>;
}

/**
 * The one error type operators see. `code` is stable (scripts match on it), `hint` names the
 * command that fixes or investigates the problem, and `exitCode` follows the CLI contract.
 */
export class OrderbusError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCodeValue;
  readonly retriable: boolean;
  readonly subject: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: OrderbusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OrderbusError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.error;
    this.retriable = options.retriable ?? false;
    this.subject = options.subject;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      exitCode: this.exitCode,
      retriable: this.retriable,
      subject: this.subject,
      details: this.details,
    };
  }
}

export function usageError(code: string, message: string, hint?: string): OrderbusError {
  return new OrderbusError(code, message, { hint, exitCode: ExitCode.usage });
}

export function isOrderbusError(e: unknown): e is OrderbusError {
  return e instanceof OrderbusError;
}

/** Wraps anything thrown by a driver so it carries a code and a hint; keeps the original as cause. */
export function wrapError(e: unknown, code: string, message: string, options: OrderbusErrorOptions = {}) {
  if (e instanceof OrderbusError) return e;
  const reason = e instanceof Error ? e.message : String(e);
  return new OrderbusError(code, `${message}: ${reason}`, { ...options, cause: e });
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface FormatErrorOptions {
  /** Add the `  hint: …` line (default true); the console shows the hint on its own line. */
  hint?: boolean;
  /** The code shown for an error that has none; without it such an error reads `error: message`. */
  fallbackCode?: string;
}

/**
 * How operators see an error: `error[CODE]: message`, then `  hint: …` on the next line when
 * there is a hint. No trailing newline. Anything thrown is accepted: a driver error with a string
 * `code` (ECONNREFUSED) shows that code.
 */
export function formatError(e: unknown, options: FormatErrorOptions = {}): string {
  const err = (typeof e === 'object' && e !== null ? e : {}) as { code?: unknown; hint?: unknown };
  const code = typeof err.code === 'string' && err.code !== '' ? err.code : options.fallbackCode;
  const message = errorMessage(e);
  const head = code === undefined ? `error: ${message}` : `error[${code}]: ${message}`;
  const hint = typeof err.hint === 'string' && err.hint !== '' ? err.hint : undefined;
  return options.hint !== false && hint !== undefined ? `${head}\n  hint: ${hint}` : head;
}

/** Levenshtein-ranked close matches, for "unknown X; did you mean …" errors. */
export function closeMatches(name: string, candidates: readonly string[], max = 3): string[] {
  const scored = candidates
    .map((c) => ({ c, d: editDistance(name.toLowerCase(), c.toLowerCase()) }))
    .filter(
      ({ c, d }) => d <= Math.max(2, Math.floor(name.length / 3)) || c.includes(name) || name.includes(c),
    )
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c));
  return scored.slice(0, max).map((s) => s.c);
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

/**
 * "unknown group 'x'" with close matches and a hint to list what exists. The code is
 * UNKNOWN_<KIND> and the exit code 1 unless `options` say otherwise (a name given on the command
 * line may be a usage error).
 */
export function unknownNameError(
  kind: string,
  name: string,
  known: readonly string[],
  listCommand: string,
  options: { code?: string; exitCode?: ExitCodeValue } = {},
) {
  const close = closeMatches(name, known);
  const suffix = close.length > 0 ? `; did you mean ${close.map((c) => `'${c}'`).join(', ')}?` : '';
  return new OrderbusError(
    options.code ?? `UNKNOWN_${kind.toUpperCase().replace(/[^A-Z]/g, '_')}`,
    `unknown ${kind} '${name}'${suffix}`,
    {
      hint: listCommand,
      exitCode: options.exitCode ?? ExitCode.error,
      subject: name,
      details: { closeMatches: close },
    },
  );
}
