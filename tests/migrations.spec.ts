// Migrations that change data, on a database an earlier release left: what they keep and what they add.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle, type Db } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { createTestDatabase, migrateBefore, targets, type TestDatabase } from './helpers/databases.ts';

const EARLIER = {
  owner: ['org:read', 'org:update', 'org:delete', 'members:read', 'members:add', 'members:remove', 'members:update-role', 'invitations:create', 'roles:manage', 'stats:read', 'audit:read'],
  admin: ['org:read', 'org:update', 'members:read', 'members:add', 'members:remove', 'members:update-role', 'invitations:create', 'roles:manage', 'stats:read', 'audit:read'],
  member: ['org:read', 'members:read'],
};
const ADDED = ['api-keys:manage', 'applications:manage', 'webhooks:manage'];

for (const target of targets()) {
  describe(`migration 0007: integration permissions [${target}]`, () => {
    let testDb: TestDatabase;
    let database: DatabaseHandle;
    let db: Db;

    before(async () => {
      testDb = await createTestDatabase(target);
      database = openDatabase(testDb.config);
      db = database.db;
      await migrateBefore(db, '0007-integration-permissions');
    });
    after(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it('gives every organisation’s owner and admin roles the new permissions, and nobody else', async () => {
      await sql`insert into organisations (name) values ('One'), ('Two')`.execute(db);
      for (const [name, permissions] of Object.entries(EARLIER)) {
        await sql`insert into roles (organisation_id, name, built_in, permissions) select id, ${name}, true, ${permissions}::text[] from organisations`.execute(db);
      }
      // A custom role that happens to be called admin keeps what its organisation gave it.
      await sql`insert into organisations (name) values ('Three')`.execute(db);
      await sql`insert into roles (organisation_id, name, built_in, permissions) select id, 'admin', false, array['org:read'] from organisations where name = 'Three'`.execute(db);
      await assert.rejects(sql`update roles set permissions = array['webhooks:manage'] where not built_in`.execute(db), /roles_permissions_known/);

      // Later migrations follow it; this one is the first applied.
      assert.equal((await migrateToLatest(db))[0], '0007-integration-permissions');

      const { rows } = await sql<{ organisation: string; name: string; built_in: boolean; permissions: string[] }>`
        select o.name as organisation, r.name, r.built_in, r.permissions from roles r join organisations o on o.id = r.organisation_id order by 1, 2`.execute(db);
      const builtIn = (organisation: string) => [
        { organisation, name: 'admin', built_in: true, permissions: [...EARLIER.admin, ...ADDED] },
        { organisation, name: 'member', built_in: true, permissions: EARLIER.member },
        { organisation, name: 'owner', built_in: true, permissions: [...EARLIER.owner, ...ADDED] },
      ];
      const expected = [...builtIn('One'), { organisation: 'Three', name: 'admin', built_in: false, permissions: ['org:read'] }, ...builtIn('Two')];
      assert.deepEqual(rows, expected);
      // The catalogue the database accepts now holds them; it still refuses what is not in it.
      await sql`update roles set permissions = array['webhooks:manage'] where not built_in`.execute(db);
      await assert.rejects(sql`update roles set permissions = array['superuser'] where not built_in`.execute(db), /roles_permissions_known/);
    });
  });
}
