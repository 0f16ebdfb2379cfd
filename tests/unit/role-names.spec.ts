// Role names: normalised for storage, and compared by their UTS #39 skeleton, case-folded, so that a
// custom role cannot pass for a built-in one or for another role of its organisation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { confusableRole, normaliseRoleName, roleNameKey } from '../../src/domain/organisations/role-names.ts';

describe('role names', () => {
  it('normalises to NFKC, without invisible characters, trimmed, one space between words', () => {
    assert.equal(normaliseRoleName('  Support \t team\n'), 'Support team');
    assert.equal(normaliseRoleName('ｏｗｎｅｒ'), 'owner');
    assert.equal(normaliseRoleName('Cafe\u0301'), 'Caf\u00e9');
    assert.equal(normaliseRoleName('ow\u200bn\u00ader\ufeff'), 'owner');
    assert.equal(normaliseRoleName('Billing Lead'), 'Billing Lead');
  });

  it('gives look-alike names one key', () => {
    const owner = roleNameKey('owner');
    for (const name of ['Owner', 'OWNER ', '\u043ewner', '\u041eWNER', '0wner', 'ow\u200bner', 'ｏｗｎｅｒ', 'owne\u0433']) assert.equal(roleNameKey(name), owner, JSON.stringify(name));
    assert.equal(roleNameKey('adrnin'), roleNameKey('admin'));
    assert.equal(roleNameKey('Strasse'), roleNameKey('Straße'));
  });

  it('keeps different names apart', () => {
    const pairs: Array<[string, string]> = [['owner', 'owners'], ['admin', 'administrator'], ['member', 'members'], ['Billing', 'Bidding'], ['Café', 'Cafe staff']];
    for (const [a, b] of pairs) assert.notEqual(roleNameKey(a), roleNameKey(b), `${a} / ${b}`);
  });

  it('names the built-in or existing role a name would be taken for', () => {
    assert.equal(confusableRole('\u043ewner', []), 'owner');
    assert.equal(confusableRole('\u0410uditor', [{ name: 'Auditor' }]), 'Auditor');
    assert.equal(confusableRole('Auditors', [{ name: 'Auditor' }]), undefined);
  });
});
