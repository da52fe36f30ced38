import { describe, expect, it } from 'vitest';
import { parseFilter } from '../../src/ops/dlq/edits.js';

// The --filter language: quoted values and `||` (with `&&` binding tighter).
const letter = {
  errorClass: 'HttpGone',
  reason: null,
  count: 2,
  originalQueue: 'billing.invoices',
  payload: { note: 'a && b', who: "it's || me", url: 'http://p/v1/o' },
};

describe('dlq --filter', () => {
  it.each([
    // quoting: && || and spaces inside quotes are part of the value
    ['payload.note = "a && b"', true],
    ["payload.note = 'a && b'", true],
    ['payload.note="a && b" && errorClass=HttpGone', true],
    ['payload.note = "a"', false],
    [`payload.who = "it's || me"`, true],
    [`payload.who = 'it\\'s || me'`, true],
    ['payload.note != "a && b"', false],
    // || and && precedence: a && b || c is (a && b) || c
    ['errorClass=Other || count>1', true],
    ['errorClass=Other || count>5', false],
    ['errorClass=Other && count>1 || originalQueue=billing.invoices', true],
    ['errorClass=HttpGone || errorClass=Other && count>5', true],
    ['errorClass=Other || errorClass=HttpGone && count>5', false],
    ['errorClass=Other or count>=2', true],
    ['errorClass=HttpGone and count<=1', false],
    // unquoted values still run to the next joiner, trimmed; regular expressions, negated too
    ['payload.url~^http://p/v1 && errorClass = HttpGone ', true],
    ['payload.url!~^http://p/v1', false],
    ['reason=', true],
  ])('%s → %s', (expr, expected) => {
    expect(parseFilter(expr)(letter)).toBe(expected);
  });

  it('refuses what it cannot parse, naming the condition', () => {
    expect(() => parseFilter('errorClass')).toThrow(/cannot parse filter condition 'errorClass'/);
    expect(() => parseFilter('a=1 || b')).toThrow(/cannot parse filter condition 'b'/);
    expect(() => parseFilter('payload.note = "a && b')).toThrow(/unterminated/);
    expect(() => parseFilter('payload.note = "a" junk')).toThrow(/expected && or \|\|/);
    expect(() => parseFilter('a~(')).toThrow(/regular expression/);
    expect(() => parseFilter('__proto__.x=1')).toThrow(/__proto__/);
  });
});
