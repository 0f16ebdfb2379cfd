// The database layer on every target: migrations, transactions that really are isolated from each
// other (the embedded driver must hand its single session to one transaction at a time), constraint
// names reaching the code, and an embedded database that survives a restart.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { mapConstraintError } from '../src/domain/constraint-errors.ts';
import { openDatabase, type DatabaseHandle, type Db, type Executor } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { MIGRATIONS } from '../src/db/migrations/index.ts';
import { ValidationError } from '../src/domain/errors.ts';
import { createTestDatabase, targets, type TestDatabase } from './helpers/databases.ts';

const ALL_MIGRATIONS = MIGRATIONS.map((m) => m.name);

const countRuns = async (db: Db, run: string) => {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from audit_events where target_id = ${run}`.execute(db);
  return rows[0]!.n;
};

const insertEvent = (db: Executor, run: string, index: number) =>
  db.insertInto('audit_events').values({ action: 'test.transaction', target_type: 'test', target_id: run, data: JSON.stringify({ index }) }).execute();

for (const target of targets()) {
  describe(`database [${target}]`, () => {
    let testDb: TestDatabase;
    let database: DatabaseHandle;
    let db: Db;
    let firstRun: string[];

    before(async () => {
      testDb = await createTestDatabase(target);
      database = openDatabase(testDb.config, { poolSize: 20 });
      db = database.db;
      firstRun = await migrateToLatest(db);
    });
    after(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it('applies the migrations once; a second run applies nothing', async () => {
      assert.deepEqual(firstRun, ALL_MIGRATIONS);
      assert.deepEqual(await migrateToLatest(db), []);
      const { rows } = await sql<{ name: string }>`select name from gatehouse_migrations order by name`.execute(db);
      assert.deepEqual(rows.map((r) => r.name), ALL_MIGRATIONS);
      const tables = await sql<{ n: number }>`select count(*)::int as n from information_schema.tables where table_schema = 'public' and table_name in ('users', 'organisations', 'roles', 'members', 'sessions', 'signing_keys', 'outbox', 'audit_events')`.execute(db);
      assert.equal(tables.rows[0]!.n, 8);
    });

    it('refuses a database a newer Gatehouse migrated, as the migrator always has, and changes nothing', async () => {
      await sql`insert into gatehouse_migrations (name, timestamp) values ('9999-from-a-newer-release', '2099-01-01T00:00:00Z')`.execute(db);
      try {
        await assert.rejects(migrateToLatest(db), /9999-from-a-newer-release|corrupted/);
      } finally {
        await sql`delete from gatehouse_migrations where name = '9999-from-a-newer-release'`.execute(db);
      }
      assert.deepEqual(await migrateToLatest(db), []);
    });

    it('keeps 20 concurrent transactions apart: the rolled-back ones leave nothing, the others everything', async () => {
      const run = randomUUID();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          db.transaction().execute(async (trx) => {
            await trx.insertInto('audit_events').values({ action: 'test.transaction', target_id: run, data: JSON.stringify({ i, n: 1 }) }).execute();
            // Give every other transaction the chance to run in between.
            await new Promise((resolve) => setImmediate(resolve));
            await trx.insertInto('audit_events').values({ action: 'test.transaction', target_id: run, data: JSON.stringify({ i, n: 2 }) }).execute();
            await sql`select 1`.execute(trx);
            if (i % 3 === 0) throw new Error(`transaction ${i} gives up`);
            return i;
          }),
        ),
      );
      const committed = outcomes.filter((o) => o.status === 'fulfilled').length;
      const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      assert.equal(committed, 13);
      for (const failure of failed) assert.match(String(failure.reason), /gives up/);
      assert.equal(await countRuns(db, run), 2 * committed);
      const survivors = await db.selectFrom('audit_events').select('data').where('target_id', '=', run).execute();
      assert.ok(survivors.every((row) => (row.data as { i: number }).i % 3 !== 0), 'a rolled-back transaction left a row');
    });

    it('never shows a transaction’s uncommitted rows to a query outside it', async () => {
      const run = randomUUID();
      let inserted!: () => void;
      const didInsert = new Promise<void>((resolve) => (inserted = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const transaction = db.transaction().execute(async (trx) => {
        await trx.insertInto('audit_events').values({ action: 'test.transaction', target_id: run, data: '{}' }).execute();
        inserted();
        await gate;
        throw new Error('roll back');
      });
      await didInsert;
      const outside = countRuns(db, run);
      release();
      await assert.rejects(transaction, /roll back/);
      assert.equal(await outside, 0);
      assert.equal(await countRuns(db, run), 0);
    });

    it('commits a transaction’s writes and lets plain queries run alongside transactions', async () => {
      const run = randomUUID();
      await Promise.all([
        db.transaction().execute(async (trx) => {
          await insertEvent(trx, run, 1);
          await insertEvent(trx, run, 2);
        }),
        insertEvent(db, run, 3),
        countRuns(db, run),
      ]);
      assert.equal(await countRuns(db, run), 3);
    });

    it('reports a violated constraint by its name: users_email_key for a duplicate email in any case', async () => {
      const email = `dup.${randomUUID()}@example.com`;
      await db.insertInto('users').values({ email, password_hash: 'x' }).execute();
      const error = await db
        .insertInto('users')
        .values({ email: email.toUpperCase(), password_hash: 'x' })
        .execute()
        .then(
          () => assert.fail('a duplicate email was accepted'),
          (e: unknown) => e as { code?: string; constraint?: string },
        );
      assert.equal(error.code, '23505');
      assert.equal(error.constraint, 'users_email_key');
      const mapped = mapConstraintError(error);
      assert.ok(mapped instanceof ValidationError);
      assert.deepEqual(mapped.errors, [{ field: 'email', message: 'Email already exists' }]);

      const badUsername = await db
        .insertInto('users')
        .values({ username: '!!', password_hash: 'x' })
        .execute()
        .then(
          () => assert.fail('a malformed username was accepted'),
          (e: unknown) => e as { code?: string; constraint?: string },
        );
      assert.equal(badUsername.code, '23514');
      assert.equal(badUsername.constraint, 'users_username_format');
    });

    if (target === 'postgres') {
      it('prepares a repeated query once per connection and runs transaction control as it is', async () => {
        const single = openDatabase(testDb.config, { poolSize: 1 });
        try {
          const run = randomUUID();
          const count = () => single.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<number>().as('n')).where('target_id', '=', run).executeTakeFirstOrThrow();
          for (let i = 0; i < 3; i++) assert.equal((await count()).n, 0);
          await single.db.transaction().execute((trx) => insertEvent(trx, run, 1));
          assert.equal((await count()).n, 1);
          const { rows } = await sql<{ statement: string; calls: number }>`select statement, generic_plans + custom_plans as calls from pg_prepared_statements where name like 'gh\_%'`.execute(single.db);
          const counting = rows.filter((row) => row.statement.includes('count(*)') && row.statement.includes('"audit_events"'));
          assert.equal(counting.length, 1, JSON.stringify(rows));
          assert.equal(counting[0]!.calls, 4, 'one statement, parsed once and run four times');
          assert.ok(!rows.some((row) => /^\s*(begin|commit|rollback)/i.test(row.statement)), 'transaction control is not prepared');
        } finally {
          await single.close();
        }
      });
    }
  });
}

describe('embedded database in a folder', () => {
  it('keeps its data across close and reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-db-'));
    const dataDir = join(dir, 'data');
    const email = `persist.${randomUUID()}@example.com`;
    try {
      const first = openDatabase({ kind: 'embedded', dataDir });
      try {
        assert.deepEqual(await migrateToLatest(first.db), ALL_MIGRATIONS);
        await first.db.transaction().execute((trx) => trx.insertInto('users').values({ email, password_hash: 'x' }).execute());
      } finally {
        await first.close();
      }
      const second = openDatabase({ kind: 'embedded', dataDir });
      try {
        assert.deepEqual(await migrateToLatest(second.db), []);
        const row = await second.db.selectFrom('users').select(['email', 'platform_role']).where('email', '=', email).executeTakeFirst();
        assert.deepEqual(row, { email, platform_role: 'user' });
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
