import type { FastifyPluginAsync } from 'fastify';

/**
 * CSV import and export routes. Empty here: the `csv-import` feature (or `xms add csv-import <table>`)
 * replaces this file with the upload and export endpoints.
 */
export const importRoutes: FastifyPluginAsync = async () => {};
