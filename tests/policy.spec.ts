// The front door without HTTP: every service asks the policy itself, so a caller that skips the route
// hook (the command line, a job, a test) is refused unless its principal is allowed; and every change
// records one event, with who acted and what the subject was before and after.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { AppError } from '../src/domain/errors.ts';
import { anonymous, system, type Principal } from '../src/domain/principal.ts';
import { addMember, createOrganisation, registerUser, type TestUser } from './helpers/api.ts';
import { forEachDatabase } from './helpers/harness.ts';

const NOWHERE = { ip: null, userAgent: null };

async function refused(work: Promise<unknown>, code: string) {
  await assert.rejects(work, (error: unknown) => error instanceof AppError && error.code === code, `expected ${code}`);
}

forEachDatabase('policy without HTTP', (h) => {
  /** A principal as the route hook would make it from the user's access token. */
  const principalOf = (user: TestUser): Promise<Principal> => h().app.services.sessions.authenticate(user.accessToken, NOWHERE);

  async function team() {
    const { app } = h();
    const [owner, member] = await Promise.all([registerUser(app), registerUser(app)]);
    const orgId = await createOrganisation(app, owner.accessToken, 'Front door');
    await addMember(app, owner.accessToken, orgId, member.userId, 'member');
    return { owner, member, orgId };
  }

  it('refuses an anonymous caller and the system on organisation actions, before anything is read or written', async () => {
    const { services } = h().app;
    const { orgId } = await team();
    for (const principal of [anonymous(NOWHERE), system('a job')]) {
      await refused(services.organisations.update(principal, { organisationId: orgId, changes: { name: 'Taken over' } }), 'AUTHENTICATION_REQUIRED');
      await refused(services.organisations.delete(principal, orgId), 'AUTHENTICATION_REQUIRED');
      await refused(services.roles.create(principal, { organisationId: orgId, name: 'sneaky', permissions: ['org:delete'] }), 'AUTHENTICATION_REQUIRED');
      await refused(services.stats.usersByRole(principal, {}), 'AUTHENTICATION_REQUIRED');
      await refused(services.admin.listUsers(principal, {}), 'AUTHENTICATION_REQUIRED');
    }
    const org = await h().db.selectFrom('organisations').select('name').where('id', '=', orgId).executeTakeFirstOrThrow();
    assert.equal(org.name, 'Front door');
  });

  it('answers a non-member as if the organisation did not exist, and a member without the permission with FORBIDDEN', async () => {
    const { services } = h().app;
    const { member, orgId } = await team();
    const stranger = await principalOf(await registerUser(h().app));
    await refused(services.organisations.get(stranger, orgId), 'ORGANISATION_NOT_FOUND');
    await refused(services.organisations.update(stranger, { organisationId: orgId, changes: { name: 'x' } }), 'ORGANISATION_NOT_FOUND');
    await refused(services.organisations.update(await principalOf(member), { organisationId: orgId, changes: { name: 'x' } }), 'FORBIDDEN');
    await refused(services.invitations.create(await principalOf(member), { organisationId: orgId, email: 'someone@example.com' }), 'FORBIDDEN');
    await refused(services.audit.listForOrganisation(await principalOf(member), { organisationId: orgId }), 'FORBIDDEN');
  });

  it('keeps platform administration to platform admins, and the first admin to the system principal', async () => {
    const { services } = h().app;
    const user = await principalOf(await registerUser(h().app));
    await refused(services.admin.listUsers(user, {}), 'FORBIDDEN');
    await refused(services.accounts.createAdmin(user, { email: 'me-too@example.com', readPassword: async () => 'correct horse battery' }), 'FORBIDDEN');
    await refused(services.accounts.createAdmin(anonymous(NOWHERE), { email: 'me-too@example.com', readPassword: async () => 'correct horse battery' }), 'FORBIDDEN');
    const created = await services.accounts.createAdmin(system('tests'), { email: `admin.${Date.now()}@example.com`, readPassword: async () => 'correct horse battery' });
    assert.equal(created.created, true);
  });

  it('lets an owner act, and records the change as one event with its actor and before/after', async () => {
    const { services } = h().app;
    const { owner, orgId } = await team();
    const principal = await principalOf(owner);
    const updated = await services.organisations.update(principal, { organisationId: orgId, changes: { name: 'Renamed' } });
    assert.equal(updated.name, 'Renamed');
    const events = await h()
      .db.selectFrom('audit_events')
      .select(['action', 'actor_type', 'actor_user_id', 'target_type', 'target_id', 'data', 'before', 'after'])
      .where('organisation_id', '=', orgId)
      .where('action', '=', 'organisation.updated')
      .execute();
    assert.equal(events.length, 1);
    assert.deepEqual(events[0], {
      action: 'organisation.updated',
      actor_type: 'user',
      actor_user_id: owner.userId,
      target_type: 'organisation',
      target_id: orgId,
      data: { fields: ['name'] },
      before: { name: 'Front door', description: '' },
      after: { name: 'Renamed', description: '' },
    });
  });

  it('records what the command line does as the system’s', async () => {
    const { services } = h().app;
    const email = `promoted.${Date.now()}@example.com`;
    const user = await registerUser(h().app, { email });
    await services.accounts.createAdmin(system('command line'), { email, readPassword: async () => 'unused' });
    const event = await h().db.selectFrom('audit_events').select(['actor_type', 'actor_user_id', 'data']).where('action', '=', 'user.promoted').where('target_id', '=', user.userId).executeTakeFirstOrThrow();
    assert.deepEqual(event, { actor_type: 'system', actor_user_id: null, data: { platformRole: 'admin', via: 'command line' } });
  });
});
