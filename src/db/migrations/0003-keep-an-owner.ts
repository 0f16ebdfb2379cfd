import type { Migration } from './migration.ts';

/**
 * An organisation always keeps an owner. Checked at commit (deferred), after taking the organisation's
 * row lock: two transactions that each demote or remove one of the last two owners take turns, and
 * the second sees the first's change, so exactly one of them succeeds. A deleted organisation (its
 * members cascading away) is not checked.
 */
export const keepAnOwner: Migration = {
  name: '0003-keep-an-owner',
  statements: [
    `create function gatehouse_keep_an_owner() returns trigger language plpgsql as $$
     begin
       perform 1 from organisations where id = old.organisation_id for update;
       if not found then return null; end if;
       if not exists (
         select 1 from members m join roles r on r.id = m.role_id
         where m.organisation_id = old.organisation_id and m.status = 'active' and r.built_in and r.name = 'owner'
       ) then
         raise exception 'An organisation must keep at least one owner'
           using errcode = '23514', constraint = 'organisations_keep_an_owner';
       end if;
       return null;
     end $$`,
    `create constraint trigger members_keep_an_owner after update or delete on members
     deferrable initially deferred for each row execute function gatehouse_keep_an_owner()`,
    // Invitations and audit queries added by the teams work.
    `create index audit_events_created_idx on audit_events (id desc)`,
  ],
};
