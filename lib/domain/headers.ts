/**
 * Header names whose values are credentials: encrypted at rest and masked when shown (lib/secrets), and never sent on
 * to another origin after a redirect (lib/net).
 */
export const SECRET_HEADER_NAME =
  /^(authorization|proxy-authorization|cookie|x-api-key|api-key|apikey)$|token|secret|passw|api[-_]?key|session|signature/i;
