// Role names are what members read to know who holds power: a custom role called "owner " or "оwner"
// (a Cyrillic о) must not pass for the built-in owner. Names are stored normalised, and a new or
// renamed role is refused when it looks like a role the organisation has, built-in or custom.
import unhomoglyph from 'unhomoglyph';
import { BUILT_IN_ROLES } from '../policy/permissions.ts';

/** The longest role name, after normalising (the database checks the same). */
export const ROLE_NAME_MAX_LENGTH = 64;

/**
 * The name as stored and shown: NFKC (fullwidth and other compatibility forms become the plain
 * letters they show), invisible format characters removed, white space trimmed and collapsed to one
 * space. The letter case stays as given.
 */
export function normaliseRoleName(name: string): string {
  return name.normalize('NFKC').replace(/\p{Default_Ignorable_Code_Point}/gu, '').replace(/\s+/gu, ' ').trim();
}

/** Case folding as far as JavaScript has it: upper then lower maps "ß" to "ss" as well as "A" to "a". */
const fold = (text: string) => text.toUpperCase().toLowerCase();

/**
 * The UTS #39 skeleton of a role name, case-folded: two names with the same key look alike ("owner",
 * "Owner", "оwner", "0wner", "ownеr"). The skeleton maps each character to its prototype in Unicode's
 * confusables data (the unhomoglyph package), between canonical decompositions. It is a key to
 * compare, never something to show.
 */
export function roleNameKey(name: string): string {
  const skeleton = (text: string) => unhomoglyph(text.normalize('NFD')).normalize('NFD');
  return fold(skeleton(fold(normaliseRoleName(name))));
}

/** The keys of the built-in roles, which every organisation has whether or not it shows them. */
const BUILT_IN_KEYS = new Map(BUILT_IN_ROLES.map((role) => [roleNameKey(role.name), role.name]));

/**
 * The existing role a name would be confused with: a built-in role, or one of `existing` (the
 * organisation's roles, without the one being renamed). Undefined when the name stands apart.
 */
export function confusableRole(name: string, existing: ReadonlyArray<{ name: string }>): string | undefined {
  const key = roleNameKey(name);
  return BUILT_IN_KEYS.get(key) ?? existing.find((role) => roleNameKey(role.name) === key)?.name;
}
