import { createHash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { tokenHash } from '../../security/tokens.js';
import { errorResponses, NoContent, Nullable } from '../../server/schemas.js';

/**
 * The caller's own sessions (protected): list the live ones (browser, opened, last seen), end one of
 * the others, or all the others. Sessions belong to the auth subsystem, so these run as xms_auth
 * (inside the request's transaction, the caller named as the audit actor) and every statement is
 * bound to the caller's user id. A session is named by the SHA-256 of its stored hash: the hash itself
 * never leaves the server, and neither handle lets anyone use the session.
 *
 *   GET    /api/sessions          the caller's live sessions, the current one marked
 *   DELETE /api/sessions/:id      end one of the caller's other sessions (the current one: log out)
 *   POST   /api/sessions/revoke-others   end every session of the caller but this one
 */
const LIVE = 'revoked_at is null and expires_at > now() and idle_expires_at > now()';

const SessionList = Type.Object({
  sessions: Type.Array(
    Type.Object({
      id: Type.String(),
      current: Type.Boolean(),
      userAgent: Nullable(Type.String()),
      createdAt: Type.String({ format: 'date-time' }),
      lastSeenAt: Type.String({ format: 'date-time' }),
    }),
  ),
});
/** A session's handle: the SHA-256 (hex) of its stored hash */
const SessionParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{64}$' }) });

function handle(hash: Buffer | Uint8Array): string {
  return createHash('sha256').update(hash).digest('hex');
}

export const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app.xms;

  app.get('/sessions', { schema: { response: { 200: SessionList, ...errorResponses } } }, async (request) => {
    const session = request.session!;
    const rows = await db.asAuth(
      (tx) =>
        tx.query<{ token_hash: Buffer | Uint8Array; user_agent: string | null; created_at: Date | string; last_seen_at: Date | string }>(
          `select token_hash, user_agent, created_at, last_seen_at from app_private.sessions
            where user_id = $1 and ${LIVE} order by last_seen_at desc`,
          [session.userId],
        ),
      { actor: session.userId },
    );
    const current = handle(tokenHash(session.token));
    return {
      sessions: rows.map((row) => ({
        id: handle(row.token_hash),
        current: handle(row.token_hash) === current,
        userAgent: row.user_agent,
        createdAt: new Date(row.created_at).toISOString(),
        lastSeenAt: new Date(row.last_seen_at).toISOString(),
      })),
    };
  });

  app.delete(
    '/sessions/:id',
    { schema: { params: SessionParams, response: { 204: NoContent, ...errorResponses } } },
    async (request, reply) => {
      const session = request.session!;
      const { id } = request.params;
      if (id === handle(tokenHash(session.token))) {
        return reply.code(400).send({ error: 'current_session', message: 'This is the session you are using: log out instead.' });
      }
      const ended = await db.asAuth(
        (tx) =>
          tx.query(
            `update app_private.sessions set revoked_at = now()
              where user_id = $1 and ${LIVE} and encode(sha256(token_hash), 'hex') = $2 returning user_id`,
            [session.userId, id],
          ),
        { actor: session.userId },
      );
      if (ended.length === 0) return reply.code(404).send({ error: 'not_found', message: 'No such session of yours.' });
      return reply.code(204).send();
    },
  );

  app.post('/sessions/revoke-others', { schema: { response: { 200: Type.Object({ ended: Type.Integer() }), ...errorResponses } } }, async (request) => {
    const session = request.session!;
    const ended = await db.asAuth(
      (tx) =>
        tx.query(`update app_private.sessions set revoked_at = now() where user_id = $1 and ${LIVE} and token_hash <> $2 returning user_id`, [
          session.userId,
          tokenHash(session.token),
        ]),
      { actor: session.userId },
    );
    return { ended: ended.length };
  });
};
