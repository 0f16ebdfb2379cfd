import type { Migration } from './migration.ts';

/**
 * A check that a statement makes of itself: true when `ok`, otherwise the statement fails as a check
 * violation of the named constraint (SQLSTATE 23514), so that everything it wrote is undone and the
 * caller learns which rule refused it. A sign-in uses it to open a session only while the account
 * still has no second factor, in the statement that writes the session.
 */
export const checkedInStatement: Migration = {
  name: '0014-checked-in-statement',
  statements: [
    `create function gatehouse_check(ok boolean, rule text) returns boolean language plpgsql as $$
     begin
       if ok then return true; end if;
       raise exception 'Refused by %', rule using errcode = '23514', constraint = rule;
     end $$`,
  ],
};
