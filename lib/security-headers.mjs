// Security headers shared by next.config.mjs (every answer, static files included) and proxy.ts (the
// per-request Content-Security-Policy with its nonce). Plain .mjs: next.config.mjs loads it unbundled.

/** Headers that are the same on every answer. */
export const STATIC_SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  // The dashboard needs none of these browser features.
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()',
  // Older browsers' frame-ancestors.
  'X-Frame-Options': 'DENY',
};

/** Pages: scripts only with this request's nonce (Next adds it to its own scripts), nothing framed, forms post home. */
export function pageCsp(nonce) {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'`,
    // React style={{...}} attributes are inline styles; scripts are what CSP must hold tight.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** JSON answers load nothing and are never framed. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

export const HSTS = 'max-age=31536000; includeSubDomains';
