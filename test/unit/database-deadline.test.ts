import { describe, expect, it } from 'vitest';
import type { PoolClient } from '../../src/adapters/postgres.js';
import { HttpError } from '../../src/http/json-server.js';
import {
  DatabaseUnreachable,
  failureAnswer,
  queryBy,
  retryAfterHeader,
  withConnection,
} from '../../src/pipeline/database-deadline.js';
import type { Queryable } from '../../src/pipeline/outbox.js';

/** An error as the server sends it: a SQLSTATE and a severity. */
const sqlError = (code: string) =>
  Object.assign(new Error(`server says ${code}`), { code, severity: 'ERROR' });

describe('checkout database deadlines', () => {
  it.each([
    ['connection failure', new DatabaseUnreachable('x', { cause: new Error('connect ECONNREFUSED') }), 503],
    ['admin shutdown 57P01', sqlError('57P01'), 503],
    ['statement_timeout 57014', sqlError('57014'), 503],
    ['too many connections 53300', sqlError('53300'), 503],
    ['deadlock 40P01', sqlError('40P01'), 503],
    ['connection exception 08006', sqlError('08006'), 503],
    ['invalid text 22P05', sqlError('22P05'), 500],
    ['undefined column 42703', sqlError('42703'), 500],
    ['a bug', new TypeError('x is undefined'), 500],
    ['a plain driver error not wrapped', new Error('Connection terminated unexpectedly'), 500],
  ])('%s answers %i, without the driver text', (_, error, status) => {
    const a = failureAnswer(error);
    expect(a.status).toBe(status);
    expect(JSON.stringify(a.body)).not.toMatch(/ECONN|server says|undefined|terminated/);
    expect(typeof a.body.message).toBe('string');
    expect(retryAfterHeader(a)).toEqual(status === 503 ? { 'retry-after': '2' } : {});
  });

  it('keeps an HttpError, and sends Retry-After: 1 with an overload 503', () => {
    const e = new HttpError(503, { error: 'overloaded' });
    expect(failureAnswer(e)).toBe(e);
    expect(retryAfterHeader(e)).toEqual({ 'retry-after': '1' });
    expect(retryAfterHeader(new HttpError(422, { error: 'idempotency_key_reused' }))).toEqual({});
  });

  it('fails a statement that does not answer by the deadline, and one whose connection fails', async () => {
    const silent: Queryable = { query: (() => new Promise(() => undefined)) as Queryable['query'] };
    const t0 = performance.now();
    await expect(queryBy(silent, performance.now() + 30, 'SELECT 1')).rejects.toBeInstanceOf(
      DatabaseUnreachable,
    );
    expect(performance.now() - t0).toBeLessThan(1000);
    await expect(queryBy(silent, performance.now() - 1, 'SELECT 1')).rejects.toBeInstanceOf(
      DatabaseUnreachable,
    );
    const dropped: Queryable = {
      query: () => Promise.reject(new Error('Connection terminated')),
    };
    await expect(queryBy(dropped, performance.now() + 1000, 'SELECT 1')).rejects.toBeInstanceOf(
      DatabaseUnreachable,
    );
    const refused: Queryable = {
      query: () => Promise.reject(sqlError('23505')),
    };
    await expect(queryBy(refused, performance.now() + 1000, 'SELECT 1')).rejects.toMatchObject({
      code: '23505',
    });
  });

  it('destroys a connection after a time-out or a lost connection, and gives it back after a SQL error', async () => {
    const released: unknown[] = [];
    const client = { release: (broken?: boolean) => released.push(broken) } as unknown as PoolClient;
    await withConnection(client, async () => 1);
    await withConnection(client, () => Promise.reject(sqlError('23505'))).catch(() => undefined);
    await withConnection(client, () => Promise.reject(new DatabaseUnreachable('late'))).catch(
      () => undefined,
    );
    await withConnection(client, () => Promise.reject(sqlError('57P01'))).catch(() => undefined);
    expect(released).toEqual([false, false, true, true]);
  });
});
