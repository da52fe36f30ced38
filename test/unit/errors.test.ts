import { describe, expect, it } from 'vitest';
import { ExitCode, OrderbusError, closeMatches, unknownNameError, wrapError } from '../../src/errors.js';

describe('errors', () => {
  it('keeps code, hint, exit code and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const e = wrapError(cause, 'KAFKA_UNREACHABLE', 'cannot reach 127.0.0.1:9092', {
      hint: 'orderbus stack up',
      retriable: true,
    });
    expect(e).toBeInstanceOf(OrderbusError);
    expect(e.message).toBe('cannot reach 127.0.0.1:9092: ECONNREFUSED');
    expect(e.cause).toBe(cause);
    expect(e.exitCode).toBe(ExitCode.error);
    expect(e.toJSON()).toMatchObject({
      code: 'KAFKA_UNREACHABLE',
      hint: 'orderbus stack up',
      retriable: true,
    });
  });

  it('suggests close matches for unknown names', () => {
    expect(closeMatches('paymnet', ['payment', 'inventory', 'shipping'])).toEqual(['payment']);
    const e = unknownNameError('group', 'loyalt', ['loyalty', 'fraud-audit'], 'orderbus lag');
    expect(e.message).toBe("unknown group 'loyalt'; did you mean 'loyalty'?");
    expect(e.code).toBe('UNKNOWN_GROUP');
    expect(e.hint).toBe('orderbus lag');
  });
});
