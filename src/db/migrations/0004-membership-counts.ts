import type { Migration } from './migration.ts';

/**
 * Membership counts the database keeps current, so that platform-wide statistics read aggregate rows
 * instead of scanning every membership:
 *   membership_counts  memberships per (organisation, role, status);
 *   role_holders       per (role name, user), how many active and suspended memberships with a role of
 *                      that name the user holds: "distinct users per role name" is a count of its rows.
 * A row that reaches zero is deleted, so every row counts someone.
 *
 * The triggers on members are per statement, over transition tables: a set-based insert of a million
 * memberships aggregates once. They apply signed changes through one function per table, which locks
 * the existing rows it touches in key order first (concurrent statements wait for each other rather
 * than deadlock), adds with `on conflict do update` (two first members of a key both count), and
 * subtracts with an update, then deletes what reached zero (an insert of a negative count would break
 * the check before its conflict was seen).
 */
export const membershipCounts: Migration = {
  name: '0004-membership-counts',
  statements: [
    `create table membership_counts (
      organisation_id uuid not null,
      role_id uuid not null,
      status text not null,
      members integer not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint membership_counts_pkey primary key (organisation_id, role_id, status),
      constraint membership_counts_role_fkey foreign key (role_id, organisation_id) references roles (id, organisation_id) on delete cascade,
      constraint membership_counts_members_check check (members >= 0)
    )`,
    // No foreign key to users: a user's rows go with their memberships, through the triggers below.
    `create table role_holders (
      role_name text not null,
      user_id uuid not null,
      active integer not null default 0,
      suspended integer not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint role_holders_pkey primary key (role_name, user_id),
      constraint role_holders_counts_check check (active >= 0 and suspended >= 0)
    )`,

    // A change is a key with signed counts.
    `create type membership_count_change as (organisation_id uuid, role_id uuid, status text, members integer)`,
    `create type role_holding_change as (role_name text, user_id uuid, active integer, suspended integer)`,
    `create function gatehouse_add_membership_counts(changes membership_count_change[]) returns void language plpgsql as $$
     begin
       perform 1 from membership_counts k join unnest(changes) c on (c.organisation_id, c.role_id, c.status) = (k.organisation_id, k.role_id, k.status)
       order by k.organisation_id, k.role_id, k.status for update of k;
       insert into membership_counts as k (organisation_id, role_id, status, members)
       select c.organisation_id, c.role_id, c.status, c.members from unnest(changes) c where c.members > 0 order by c.organisation_id, c.role_id, c.status
       on conflict (organisation_id, role_id, status) do update set members = k.members + excluded.members, updated_at = now();
       update membership_counts k set members = k.members + c.members, updated_at = now() from unnest(changes) c
       where c.members < 0 and (c.organisation_id, c.role_id, c.status) = (k.organisation_id, k.role_id, k.status);
       delete from membership_counts k using unnest(changes) c
       where c.members < 0 and k.members = 0 and (c.organisation_id, c.role_id, c.status) = (k.organisation_id, k.role_id, k.status);
     end $$`,
    `create function gatehouse_add_role_holdings(changes role_holding_change[]) returns void language plpgsql as $$
     begin
       perform 1 from role_holders h join unnest(changes) c on (c.role_name, c.user_id) = (h.role_name, h.user_id)
       order by h.role_name, h.user_id for update of h;
       insert into role_holders as h (role_name, user_id, active, suspended)
       select c.role_name, c.user_id, c.active, c.suspended from unnest(changes) c where c.active >= 0 and c.suspended >= 0 and c.active + c.suspended > 0 order by c.role_name, c.user_id
       on conflict (role_name, user_id) do update set active = h.active + excluded.active, suspended = h.suspended + excluded.suspended, updated_at = now();
       update role_holders h set active = h.active + c.active, suspended = h.suspended + c.suspended, updated_at = now() from unnest(changes) c
       where (c.active < 0 or c.suspended < 0) and (c.role_name, c.user_id) = (h.role_name, h.user_id);
       delete from role_holders h using unnest(changes) c
       where (c.active < 0 or c.suspended < 0) and h.active = 0 and h.suspended = 0 and (c.role_name, c.user_id) = (h.role_name, h.user_id);
     end $$`,

    // Members updated or deleted lock their organisations' rows at commit (members_keep_an_owner, 0003).
    // Taken after the count rows, that lock would deadlock with an addition to the same organisation,
    // which holds a key-share lock on the organisation (its foreign key) while it waits for a count
    // row: updates and deletes take it first, in id order.
    `create function gatehouse_lock_organisations(ids uuid[]) returns void language plpgsql as $$
     begin
       perform 1 from organisations where id = any(ids) order by id for update;
     end $$`,

    // Inserted memberships count +1, deleted ones -1: both triggers name their transition table changed_members.
    `create function gatehouse_count_members() returns trigger language plpgsql as $$
     declare
       direction integer := case tg_op when 'INSERT' then 1 else -1 end;
     begin
       if tg_op = 'DELETE' then perform gatehouse_lock_organisations(array(select distinct organisation_id from changed_members)); end if;
       perform gatehouse_add_membership_counts(array(
         select row(organisation_id, role_id, status, direction * count(*)::int)::membership_count_change
         from changed_members group by organisation_id, role_id, status));
       perform gatehouse_add_role_holdings(array(
         select row(r.name, m.user_id, direction * (count(*) filter (where m.status = 'active'))::int, direction * (count(*) filter (where m.status = 'suspended'))::int)::role_holding_change
         from changed_members m join roles r on r.id = m.role_id group by r.name, m.user_id));
       return null;
     end $$`,
    // An update moves memberships: the old rows count -1, the new +1, and what nets to zero (a settings change) touches nothing.
    `create function gatehouse_count_changed_members() returns trigger language plpgsql as $$
     begin
       perform gatehouse_lock_organisations(array(select distinct organisation_id from old_members));
       perform gatehouse_add_membership_counts(array(
         select row(organisation_id, role_id, status, sum(sign)::int)::membership_count_change
         from (select organisation_id, role_id, status, 1 as sign from new_members
               union all select organisation_id, role_id, status, -1 from old_members) c
         group by organisation_id, role_id, status having sum(sign) <> 0));
       perform gatehouse_add_role_holdings(array(
         select row(r.name, c.user_id, coalesce(sum(c.sign) filter (where c.status = 'active'), 0)::int, coalesce(sum(c.sign) filter (where c.status = 'suspended'), 0)::int)::role_holding_change
         from (select role_id, user_id, status, 1 as sign from new_members
               union all select role_id, user_id, status, -1 from old_members) c
         join roles r on r.id = c.role_id
         group by r.name, c.user_id
         having coalesce(sum(c.sign) filter (where c.status = 'active'), 0) <> 0 or coalesce(sum(c.sign) filter (where c.status = 'suspended'), 0) <> 0));
       return null;
     end $$`,
    `create trigger members_count_inserted after insert on members referencing new table as changed_members
     for each statement execute function gatehouse_count_members()`,
    `create trigger members_count_deleted after delete on members referencing old table as changed_members
     for each statement execute function gatehouse_count_members()`,
    `create trigger members_count_updated after update on members referencing old table as old_members new table as new_members
     for each statement execute function gatehouse_count_changed_members()`,

    // A deleted organisation's members would cascade away together with its roles, and the triggers of
    // cascaded deletes all fire at the end of the statement, when the roles naming the memberships are
    // gone already. Deleting the members first, in a statement of their own, counts them while the
    // names are still there.
    `create function gatehouse_delete_members_first() returns trigger language plpgsql as $$
     begin
       delete from members where organisation_id = old.id;
       return old;
     end $$`,
    `create trigger organisations_delete_members_first before delete on organisations
     for each row execute function gatehouse_delete_members_first()`,

    // A renamed role's holders move to the new name. (A role members hold cannot be deleted: members_role_fkey restricts it.)
    `create function gatehouse_rename_role_holders() returns trigger language plpgsql as $$
     begin
       perform gatehouse_add_role_holdings(array(
         select row(n.name, m.user_id, n.sign * (count(*) filter (where m.status = 'active'))::int, n.sign * (count(*) filter (where m.status = 'suspended'))::int)::role_holding_change
         from members m cross join (values (old.name, -1), (new.name, 1)) n (name, sign)
         where m.role_id = new.id group by n.name, n.sign, m.user_id));
       return null;
     end $$`,
    `create trigger roles_rename_role_holders after update of name on roles
     for each row when (old.name is distinct from new.name) execute function gatehouse_rename_role_holders()`,

    // The counts of the memberships already there. After the triggers: creating them locked members
    // against writes until this migration commits, so no membership is missed or counted twice.
    `insert into membership_counts (organisation_id, role_id, status, members)
     select organisation_id, role_id, status, count(*) from members group by organisation_id, role_id, status`,
    `insert into role_holders (role_name, user_id, active, suspended)
     select r.name, m.user_id, count(*) filter (where m.status = 'active'), count(*) filter (where m.status = 'suspended')
     from members m join roles r on r.id = m.role_id group by r.name, m.user_id`,
  ],
};
