// Bearer tokens minted the way the identity provider would: HS256 JWTs signed with the
// API's AUTH_JWT_SECRET, one per test owner, so every request is authenticated as a real
// client's is. JWT_ISSUER and JWT_AUDIENCE are added when the API checks them.
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';

const secret = __ENV.JWT_SECRET;
if (!secret) {
  throw new Error('JWT_SECRET is not set: the AUTH_JWT_SECRET of the API under test');
}

function base64url(text) {
  return encoding.b64encode(text, 'rawurl');
}

/** A token for `owner`, issued now and valid for `lifetimeSeconds`. */
export function mintToken(owner, lifetimeSeconds) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: owner, iat: now, exp: now + lifetimeSeconds };
  if (__ENV.JWT_ISSUER) {
    claims.iss = __ENV.JWT_ISSUER;
  }
  if (__ENV.JWT_AUDIENCE) {
    claims.aud = __ENV.JWT_AUDIENCE;
  }
  const signed = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}`;
  return `${signed}.${crypto.hmac('sha256', secret, signed, 'base64rawurl')}`;
}
