import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { lostMembership } from '../../src/pipeline/group-membership.js';

describe('lostMembership (a batch failed because the consumer left its group, not for the records)', () => {
  it('is true for the errors kafkajs rejoins the group on', () => {
    for (const type of [
      'REBALANCE_IN_PROGRESS',
      'UNKNOWN_MEMBER_ID',
      'ILLEGAL_GENERATION',
      'NOT_COORDINATOR_FOR_GROUP',
    ])
      expect(lostMembership(Object.assign(new kafkajs.KafkaJSProtocolError('refused'), { type }))).toBe(true);
  });

  it('is false for anything else, so those are retried and, if they persist, dead-lettered', () => {
    expect(lostMembership(new Error('bad record'))).toBe(false);
    expect(lostMembership(Object.assign(new Error('x'), { type: 'INVALID_RECORD' }))).toBe(false);
    expect(lostMembership(null)).toBe(false);
    expect(lostMembership('UNKNOWN_MEMBER_ID')).toBe(false);
  });
});
