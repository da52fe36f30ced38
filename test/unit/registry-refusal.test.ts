import { describe, expect, it } from 'vitest';
import { registryDownReason, registryRefusal, registryRefusalKind } from '../../src/adapters/registry.js';
import { registryFailure } from '../../src/events/codec.js';

/** The registry client's error for a request that got an answer (`status`) or none (a 400 with Node's text). */
const clientError = (status: number, message: string) =>
  Object.assign(new Error(`Confluent_Schema_Registry - ${message}`), { status });

describe('a registry that refuses the credentials or the certificate', () => {
  it.each([
    ['401', clientError(401, 'Unauthorized'), 'auth'],
    ['403', clientError(403, 'Forbidden'), 'auth'],
    [
      'an unknown CA (client text)',
      clientError(400, 'Error, status 400: self-signed certificate in certificate chain'),
      'tls',
    ],
    [
      'a name mismatch (client text)',
      clientError(400, "Error, status 400: Hostname/IP does not match certificate's altnames"),
      'tls',
    ],
    [
      'an unknown CA (Node code)',
      Object.assign(new Error('x'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }),
      'tls',
    ],
    ['no answer', clientError(400, 'Error, status 400: connect ECONNREFUSED 127.0.0.1:1'), undefined],
    ['a registry 400', clientError(400, 'Invalid schema'), undefined],
    ['404', clientError(404, 'Schema not found'), undefined],
  ])('%s', (_name, e, kind) => {
    expect(registryRefusalKind(e)).toBe(kind);
    if (kind) expect(registryFailure(e)).toBe('refused');
  });

  it('is an error with its code and a hint naming the keys of the context, the password masked', () => {
    const e = registryRefusal(
      { registry: { url: 'https://reg.example:8081' }, context: 'staging' },
      clientError(401, 'Unauthorized https://ops:s3cret@reg.example:8081'),
    );
    expect(e).toMatchObject({
      code: 'REGISTRY_AUTH_FAILED',
      retriable: false,
      hint: 'check registry.username and registry.password of context staging (orderbus context show, orderbus config), then orderbus status',
    });
    expect(e?.message).not.toContain('s3cret');
  });

  it('health reasons by Node code', () => {
    const coded = (code: string) => Object.assign(new Error(code), { code });
    expect(
      [
        'ECONNREFUSED',
        'ETIMEDOUT',
        'ECONNRESET',
        'SELF_SIGNED_CERT_IN_CHAIN',
        'ERR_TLS_CERT_ALTNAME_INVALID',
        'EHOSTUNREACH',
      ].map((c) => registryDownReason(coded(c))),
    ).toEqual(['refused', 'timed out', 'reset', 'tls', 'tls', 'error']);
  });
});
