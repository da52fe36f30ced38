import { describe, expect, it } from 'vitest';
import {
  ExitCode,
  OrderbusError,
  closeMatches,
  formatError,
  unknownNameError,
  wrapError,
} from '../../src/errors.js';

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

describe('formatError', () => {
  it('prints the code, the message and the hint on its own line', () => {
    const e = new OrderbusError('GROUP_ACTIVE', 'group payment has 2 members', { hint: 'orderbus lag' });
    expect(formatError(e)).toBe('error[GROUP_ACTIVE]: group payment has 2 members\n  hint: orderbus lag');
    expect(formatError(e, { hint: false })).toBe('error[GROUP_ACTIVE]: group payment has 2 members');
  });

  it('leaves out the hint line when there is no hint', () => {
    expect(formatError(new OrderbusError('X', 'boom'))).toBe('error[X]: boom');
  });

  it('formats anything thrown: a driver code, a fallback code or none', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(formatError(refused)).toBe('error[ECONNREFUSED]: connect ECONNREFUSED');
    expect(formatError(new Error('boom'))).toBe('error: boom');
    expect(formatError(new Error('boom'), { fallbackCode: 'ERROR' })).toBe('error[ERROR]: boom');
    expect(formatError('plain string')).toBe('error: plain string');
  });
});

describe('unknownNameError', () => {
  it('takes another code and exit code where the name is a usage error', () => {
    const e = unknownNameError(
      'chaos scenario',
      'shiping-slow',
      ['shipping-slow', 'kafka-down'],
      'orderbus chaos list',
      {
        code: 'UNKNOWN_SCENARIO',
        exitCode: ExitCode.usage,
      },
    );
    expect(formatError(e)).toBe(
      "error[UNKNOWN_SCENARIO]: unknown chaos scenario 'shiping-slow'; did you mean 'shipping-slow'?\n  hint: orderbus chaos list",
    );
    expect(e.exitCode).toBe(2);
  });
});
