import { describe, expect, it } from 'vitest';
import { postgresDownReason } from '../../src/ops/health.js';

/** An error as the driver or Node gives it: a message and, where it has one, a code. */
const err = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});

describe('why PostgreSQL is down, in a word', () => {
  it.each([
    ['connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED', 'refused'],
    ['timeout exceeded when trying to connect', undefined, 'timed out'],
    ['Connection terminated due to connection timeout', undefined, 'timed out'],
    ['Query read timeout', undefined, 'timed out'],
    ['connect ETIMEDOUT 10.0.0.1:5432', 'ETIMEDOUT', 'timed out'],
    ['password authentication failed for user "orderbus"', '28P01', 'auth'],
    ['role "nobody" does not exist', '28000', 'auth'],
    ['the database system is starting up', '57P03', 'unavailable'],
    ['sorry, too many clients already', '53300', 'unavailable'],
    ['connect ECONNRESET 127.0.0.1:5432', 'ECONNRESET', 'reset'],
    ['Connection terminated unexpectedly', undefined, 'reset'],
    ['terminating connection due to administrator command', '57P01', 'reset'],
    ['database "orderbus" does not exist', '3D000', 'error'],
  ])('%s → %s', (message, code, reason) => {
    expect(postgresDownReason(err(message, code))).toBe(reason);
  });

  it('a host with several addresses: the reason of the inner errors', () => {
    const e = new AggregateError([err('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], '');
    expect(postgresDownReason(e)).toBe('refused');
  });
});
