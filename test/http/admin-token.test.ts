import { describe, expect, it } from 'vitest';
import { bearer, startGateway } from '../helpers/gateway.js';

describe('the admin token', () => {
  it('SWITCHBOARD_ADMIN_TOKEN is the admin token: changing it revokes the previous one', async () => {
    const first = await startGateway({ env: { SWITCHBOARD_ADMIN_TOKEN: 'sb_admin_first_0123456789' }, keepDir: true });
    await first.api.get('/api/teams').set(bearer('sb_admin_first_0123456789')).expect(200);
    await first.close();

    const second = await startGateway({ dbPath: first.dbPath, env: { SWITCHBOARD_ADMIN_TOKEN: 'sb_admin_second_0123456789' } });
    try {
      await second.api.get('/api/teams').set(bearer('sb_admin_second_0123456789')).expect(200);
      const old = await second.api.get('/api/teams').set(bearer('sb_admin_first_0123456789'));
      expect(old.status).toBe(401);
      expect(old.body.error.code).toBe('UNAUTHENTICATED');
      // Its holder is told what happened, not that the token is unknown.
      expect(old.body.error.message).toMatch(/^This admin token was replaced at .*SWITCHBOARD_ADMIN_TOKEN/);
      expect(second.gw.services.auth.revokedAdminTokens).toBe(1);
      // Team tokens are not admin tokens and survive the rotation.
      const team = await second.api.post('/api/teams').set(bearer('sb_admin_second_0123456789')).send({ name: 'T', slug: 't' }).expect(201);
      await second.api.get(`/api/teams/${team.body.team.id}`).set(bearer(team.body.token)).expect(200);
    } finally {
      await second.close();
    }
  });

  it('rotating back to an earlier SWITCHBOARD_ADMIN_TOKEN makes it work again (and the other stops)', async () => {
    const a = 'sb_admin_aaaa_0123456789';
    const b = 'sb_admin_bbbb_0123456789';
    const first = await startGateway({ env: { SWITCHBOARD_ADMIN_TOKEN: a }, keepDir: true });
    await first.close();
    const second = await startGateway({ dbPath: first.dbPath, env: { SWITCHBOARD_ADMIN_TOKEN: b }, keepDir: true });
    await second.close();
    const third = await startGateway({ dbPath: first.dbPath, env: { SWITCHBOARD_ADMIN_TOKEN: a } });
    try {
      await third.api.get('/api/teams').set(bearer(a)).expect(200);
      expect((await third.api.get('/api/teams').set(bearer(b))).status).toBe(401);
      expect(third.gw.services.auth.revokedAdminTokens).toBe(1);
    } finally {
      await third.close();
    }
  });
});
