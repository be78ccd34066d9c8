/**
 * A server certificate that does not verify (unknown CA, wrong host name, expired) fails the same way on every
 * attempt, so it is fatal wherever it shows up: kafkajs reports it as a connection error carrying Node's code,
 * the registry client (mappersmith) as an HTTP 400 carrying only Node's message. Both are recognised here.
 */

/** Node's codes for a certificate that failed verification: OpenSSL's X509_V_ERR_* names and the host-name check. */
const VERIFICATION_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The messages Node gives those codes, for errors that kept the message and lost the code. */
const VERIFICATION_MESSAGE =
  /self[- ]signed certificate|unable to verify the first certificate|unable to get (?:local )?issuer certificate|certificate has expired|certificate is not yet valid|certificate signature failure|does not match certificate's altnames/i;

export function isTlsVerificationCode(code: unknown): boolean {
  return typeof code === 'string' && VERIFICATION_CODES.has(code);
}

export function isTlsVerificationMessage(message: unknown): boolean {
  return typeof message === 'string' && VERIFICATION_MESSAGE.test(message);
}
