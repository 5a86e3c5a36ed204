/**
 * Header names whose values are credentials: encrypted at rest and masked when shown (lib/secrets). A class, not a
 * list of known names: anything naming authentication or authorization, a token, secret, password, credential, private
 * or access key, API key, session or signature, and any name ending in "key" (X-Auth-Key, X-Access-Key, X-Private-Key).
 */
export const SECRET_HEADER_NAME =
  /^(cookie|proxy-authorization)$|auth|token|secret|passw|credential|private|api[-_]?key|access[-_]?key|(^|[-_])key$|session|signature/i;

/**
 * The only headers that follow a redirect to another origin (lib/net): what describes the request's content and the
 * client, and Cronplane's own occurrence information. Everything else, credential-like or not, is dropped: a name the
 * rule above misses must not reach a host the job never named.
 */
const CROSS_ORIGIN_HEADER =
  /^(accept|accept-language|accept-encoding|content-type|content-language|user-agent|cache-control|pragma|webhook-id|webhook-timestamp)$|^cronplane-/i;

export function followsCrossOriginRedirect(name: string): boolean {
  return CROSS_ORIGIN_HEADER.test(name) && !SECRET_HEADER_NAME.test(name);
}
