// The names given to prepared statements: one per distinct text, only for statements PostgreSQL can
// prepare, and no more than the limit, past which queries run unnamed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PLANNED_EACH_RUN, statementNamer } from '../../src/db/prepared-statements.ts';

describe('statementNamer', () => {
  it('names each preparable text once, the same way every time, and two texts apart', () => {
    const name = statementNamer();
    const select = 'select "id" from "users" where "id" = $1';
    const first = name(select);
    assert.match(first ?? '', /^gh_[A-Za-z0-9_-]{22}$/);
    assert.equal(name(select), first);
    assert.equal(statementNamer()(select), first, 'the name depends on the text alone, so every node and connection agree');
    assert.notEqual(name('select "id" from "users" where "email" = $1'), first);
    for (const text of ['insert into "x" values ($1)', 'UPDATE "x" set "a" = $1', '  delete from "x"', 'with t as (select 1) select * from t']) assert.ok(name(text), text);
  });

  it('leaves transaction control and other commands unnamed', () => {
    const name = statementNamer();
    for (const text of ['begin', 'commit', 'rollback', 'savepoint sp1', 'set local lock_timeout = 1000', 'create table x (a int)', 'selection', '']) assert.equal(name(text), undefined, text);
    assert.equal(name(`${PLANNED_EACH_RUN} with claimed as (update "q" set "a" = 1 returning "id") select * from claimed`), undefined, 'a statement planned each run');
  });

  it('stops naming new texts past its limit, still naming those it knows', () => {
    const name = statementNamer(2);
    const a = name('select 1');
    const b = name('select 2');
    assert.ok(a && b);
    assert.equal(name('select 3'), undefined);
    assert.equal(name('select 1'), a);
  });
});
