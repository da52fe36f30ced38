/**
 * Keeps secrets out of everything orderbus shows: `orderbus config`, error messages, --verbose.
 * A value is secret by its key (password, token, secret) or because the configuration registered
 * it when it read it (a password from a file or an environment variable); URL user-info passwords
 * are masked wherever a URL is shown.
 */
export const MASK = '***';

/** Keys whose values are secrets. `passwordFile` / `passwordEnv` name where a secret is, not the secret. */
const SECRET_KEY = /^(password|secret|token|accessToken|keyPassword|clientSecret)$/i;

const known = new Set<string>();

/** Remembers a secret value so that redact() masks it wherever it turns up in text. */
export function registerSecret(value: string | undefined): void {
  // Very short values would mask ordinary words; they are still masked by key and in URLs.
  if (value !== undefined && value.length >= 4) known.add(value);
}

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** `amqp://user:pw@host` → `amqp://user:***@host`; anything that is not such a URL unchanged. */
export function redactUrl(text: string): string {
  // The scheme://user:password@ form, also inside longer text (a driver's error message).
  return text.replace(
    /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):([^\s@/]+)@/gi,
    (_m, head: string) => `${head}:${MASK}@`,
  );
}

function redactText(text: string): string {
  let out = redactUrl(text);
  for (const s of known) out = out.split(s).join(MASK);
  return out;
}

/**
 * The one redaction used wherever a config value, URL or message is shown: strings lose URL
 * passwords and registered secrets; objects are copied with secret keys masked, deeply.
 */
export function redact<T>(value: T, key?: string): T {
  if (key !== undefined && isSecretKey(key) && value !== undefined && value !== null) return MASK as T;
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((v) => redact(v)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redact(v, k)]),
    ) as T;
  }
  return value;
}
