/**
 * Typed errors of the scheme, twins of cirqliz/passcode/errors.py: each carries a stable `code`.
 * They never escape verifyPass (every failure there becomes a verdict); openBundle throws
 * BundleError so the caller can keep the bundle it already holds.
 */

/** Base class: `code` is stable and machine-readable, the message says what is wrong. */
export class SchemeError extends Error {
  /**
   * @param {string} message what is wrong, for people
   * @param {string} code stable machine-readable code (e.g. 'bad_base45')
   */
  constructor(message, code = 'scheme_error') {
    super(message);
    this.name = 'SchemeError';
    this.code = code;
  }
}

/** The input is not a well-formed pass, COSE message or bundle (prefix, Base45, CBOR…). */
export class MalformedError extends SchemeError {
  constructor(message, code = 'malformed') {
    super(message, code);
    this.name = 'MalformedError';
  }
}

/** Well formed, but uses something the profile refuses (algorithm, message type, crit). */
export class UnsupportedError extends MalformedError {
  constructor(message, code = 'unsupported') {
    super(message, code);
    this.name = 'UnsupportedError';
  }
}

/** The signature does not verify with the key (or the header's alg disagrees with the key). */
export class SignatureError extends SchemeError {
  constructor(message, code = 'bad_signature') {
    super(message, code);
    this.name = 'SignatureError';
  }
}

/** A trust bundle was refused (bundle_malformed, bundle_rollback, …). */
export class BundleError extends SchemeError {
  constructor(message, code = 'bundle_refused') {
    super(message, code);
    this.name = 'BundleError';
  }
}
