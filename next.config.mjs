import { STATIC_SECURITY_HEADERS } from './lib/security-headers.mjs';

/** @type {import('next').NextConfig} */
const nextConfig = {
  // Lets several builds of one checkout live side by side (tests, parallel work). Default .next.
  distDir: process.env.NEXT_DIST_DIR || '.next',
  // Agenda, its backends, pg, mongodb and Prisma are Node libraries with optional native or
  // dynamic requires: keep them out of the server bundle and load them from node_modules.
  serverExternalPackages: [
    'agenda',
    '@agendajs/postgres-backend',
    '@agendajs/mongo-backend',
    'mongodb',
    'pg',
    '@prisma/client',
    '@prisma/adapter-pg',
  ],
  // Type errors fail the build (Next runs the type check itself), so a build never ships code tsc refuses.
  typescript: { ignoreBuildErrors: false },
  poweredByHeader: false,
  // Every answer, static files included; the CSP (per-request nonce) and HSTS come from proxy.ts.
  async headers() {
    return [{ source: '/:path*', headers: Object.entries(STATIC_SECURITY_HEADERS).map(([key, value]) => ({ key, value })) }];
  },
};

export default nextConfig;
