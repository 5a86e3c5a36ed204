/** @type {import('next').NextConfig} */
const nextConfig = {
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
  poweredByHeader: false,
};

export default nextConfig;
