import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kafkaSasl, kafkaTls, parseToken, tokenFromCommand } from '../../src/adapters/kafka-auth.js';
import { redact } from '../../src/redact.js';

/** A token command (a real process) that counts its runs in a file and prints `answer`. */
function tokenCommand(answer: (run: number) => string): { command: string[]; runs: () => number } {
  const dir = mkdtempSync(join(tmpdir(), 'orderbus-token-'));
  const counter = join(dir, 'runs');
  writeFileSync(counter, '0');
  const script = join(dir, 'token.mjs');
  const answers = Array.from({ length: 5 }, (_, i) => answer(i + 1));
  writeFileSync(
    script,
    `import { readFileSync, writeFileSync } from 'node:fs';
const n = Number(readFileSync(${JSON.stringify(counter)}, 'utf8')) + 1;
writeFileSync(${JSON.stringify(counter)}, String(n));
process.stdout.write(${JSON.stringify(answers)}[n - 1]);`,
  );
  return { command: [process.execPath, script], runs: () => Number(readFileSync(counter, 'utf8')) };
}

describe('OAUTHBEARER token command', () => {
  it('runs the command once, reuses the token, and runs it again shortly before it expires', async () => {
    let now = 1_000_000;
    const t = tokenCommand((n) => JSON.stringify({ access_token: `tok-${n}-abcdef`, expires_in: 600 }));
    const provider = tokenFromCommand(t.command, () => now);
    expect(await provider()).toEqual({ value: 'tok-1-abcdef' });
    now += 500_000;
    expect(await Promise.all([provider(), provider()])).toEqual([
      { value: 'tok-1-abcdef' },
      { value: 'tok-1-abcdef' },
    ]);
    expect(t.runs()).toBe(1);
    now += 50_000; // 550 s of 600: inside the refresh margin
    expect(await provider()).toEqual({ value: 'tok-2-abcdef' });
    expect(t.runs()).toBe(2);
    // A token the command printed is a secret from then on.
    expect(redact('bearer tok-2-abcdef')).toBe('bearer ***');
  });

  it('reads a JWT exp claim and a bare token', () => {
    const payload = Buffer.from(JSON.stringify({ exp: 2000 })).toString('base64url');
    expect(parseToken(`h.${payload}.s\n`, 0)).toEqual({ value: `h.${payload}.s`, expiresAt: 2_000_000 });
    expect(parseToken('opaque\n', 0)).toEqual({ value: 'opaque' });
    expect(() => parseToken('{"expires_in": 5}', 0)).toThrow(/no token/);
  });

  it('a failing command is KAFKA_TOKEN_COMMAND_FAILED with a hint', async () => {
    const provider = tokenFromCommand([
      process.execPath,
      '-e',
      'process.stderr.write("no session"); process.exit(3)',
    ]);
    await expect(provider()).rejects.toMatchObject({
      code: 'KAFKA_TOKEN_COMMAND_FAILED',
      hint: expect.stringMatching(/tokenCommand/),
    });
  });

  it('maps the config to kafkajs options', () => {
    const dir = mkdtempSync(join(tmpdir(), 'orderbus-tls-'));
    writeFileSync(join(dir, 'ca.pem'), 'CA');
    expect(kafkaTls(true)).toBe(true);
    expect(kafkaTls({ enabled: false, rejectUnauthorized: true })).toBe(false);
    expect(
      kafkaTls({ enabled: true, caFile: join(dir, 'ca.pem'), servername: 'k', rejectUnauthorized: false }),
    ).toEqual({
      ca: [Buffer.from('CA')],
      servername: 'k',
      rejectUnauthorized: false,
    });
    expect(() =>
      kafkaTls({ enabled: true, keyFile: join(dir, 'nope.pem'), rejectUnauthorized: true }),
    ).toThrow(/kafka\.ssl\.keyFile: cannot read/);
    expect(kafkaSasl({ mechanism: 'scram-sha-512', username: 'u', password: 'p' })).toEqual({
      mechanism: 'scram-sha-512',
      username: 'u',
      password: 'p',
    });
    expect(kafkaSasl({ mechanism: 'oauthbearer', tokenCommand: ['x'] })).toMatchObject({
      mechanism: 'oauthbearer',
    });
  });
});
