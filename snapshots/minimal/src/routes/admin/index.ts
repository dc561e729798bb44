import type { FastifyPluginAsync } from 'fastify';
// xms:admin-imports (`xms add admin-function` adds its imports above this line)

/**
 * Admin routes (prefix /api/admin): registered inside the admin scope, which requires a live session
 * whose role is admin (checked on the server, src/server/app.ts). The `admin` feature replaces this
 * file with the admin functions (create user, reset password, deactivate, delete, change role).
 */
export const adminRoutes: FastifyPluginAsync = async (app) => {
  // xms:admin-routes (`xms add admin-function` registers its routes above this line)
  void app;
};
