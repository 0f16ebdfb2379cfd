// User-given names in mail: in a subject they are cut short and hold nothing a reader or a mail client
// could take for a link; in a body they are whole, with their links defanged. Ordinary names pass as
// they are.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodyName, SUBJECT_NAME_LENGTH, subjectName } from '../../src/domain/mail/user-text.ts';

const inSubject = (value: string) => subjectName(value, { fallback: 'FALLBACK' });

describe('user-given names in mail', () => {
  it('leaves ordinary names as they are', () => {
    for (const name of ["St. Mary's Hospital", 'J. R. R. Tolkien', 'Acme Inc.', 'Node.js Foundation', 'Dr. Who Fans', 'Smith & Co.', 'Version 2.0 Team', 'Zoë Ørsted', '東京チーム', 'Jean-Luc O\'Neill', 'A.B. Consulting']) {
      assert.equal(inSubject(name), name);
      assert.equal(bodyName(name), name);
    }
  });

  it('removes every link-like part from a subject: any scheme, www., bare domains, addresses, IPs', () => {
    const cases: Array<[string, string]> = [
      ['Verify at http://evil-login.com/x now', 'Verify at now'],
      ['Go to HTTPS://EVIL.COM', 'Go to'],
      ['see www.evil', 'see'],
      ['open steam://run/1 or hxxp://evil', 'open or'],
      ['Visit evil-login.com today', 'Visit today'],
      ['write to boss@evil.com', 'write to'],
      ['Ping 192.0.2.1 now', 'Ping now'],
      ['evil\u3002com is us', 'is us'],
      ['ｅｖｉｌ．ｃｏｍ Team', 'Team'],
      ['Booking.com', 'FALLBACK'],
      ['http://evil.com', 'FALLBACK'],
    ];
    for (const [given, expected] of cases) assert.equal(inSubject(given), expected, given);
  });

  it('cuts a subject’s name to SUBJECT_NAME_LENGTH characters before looking for links, so a cut cannot make one', () => {
    const long = `${'x'.repeat(SUBJECT_NAME_LENGTH - 8)} example.community`;
    const cut = inSubject(long);
    assert.ok(Array.from(cut).length <= SUBJECT_NAME_LENGTH, cut);
    assert.doesNotMatch(cut, /example/);
    assert.equal(inSubject('\u{20000}'.repeat(50)), `${'\u{20000}'.repeat(SUBJECT_NAME_LENGTH - 1)}…`, 'cut by characters, not UTF-16 units');
    assert.equal(inSubject('😀 🎉'), 'FALLBACK', 'no letter or digit left: no name');
  });

  it('keeps a subject to one line', () => {
    assert.equal(inSubject('Acme\r\nBcc: victim\u2028Team'), 'Acme Bcc: victim Team');
  });

  it('defangs links in a body and keeps the rest whole', () => {
    assert.equal(bodyName('Verify at http://evil-login.com/x now'), 'Verify at http[:]//evil-login[.]com/x now');
    assert.equal(bodyName('www.evil and boss@evil.com'), 'www[.]evil and boss[at]evil[.]com');
    assert.equal(bodyName('Line\none'), 'Line one');
  });
});
