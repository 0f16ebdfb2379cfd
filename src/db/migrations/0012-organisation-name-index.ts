import type { Migration } from './migration.ts';

/**
 * The per-organisation statistics are ordered by organisation name (then id). A page of them walks
 * this index from its cursor and stops when full, instead of counting every organisation to sort them.
 */
export const organisationNameIndex: Migration = {
  name: '0012-organisation-name-index',
  statements: ['create index organisations_name_idx on organisations (name, id)'],
};
