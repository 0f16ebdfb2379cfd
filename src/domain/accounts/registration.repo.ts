// A registration's rows in one statement (src/db/one-statement.ts): the account, its personal
// organisation with the built-in roles and the owner's membership, the first verification link, the
// session with its refresh token, and the events' audit rows and mail. One round trip, all or nothing.
import type { Executor } from '../../db/database.ts';
import { writeTogetherReturning } from '../../db/one-statement.ts';
import type { EventRows } from '../events/event-stream.ts';
import { eventWrites, mailWrite } from '../events/events.repo.ts';
import { organisationsRepo, type NewOrganisation } from '../organisations/organisations.repo.ts';
import { sessionsRepo, type Opening } from '../sessions/sessions.repo.ts';
import { oneTimeTokensRepo, type NewOneTimeToken } from './one-time-tokens.repo.ts';
import type { User } from './types.ts';
import { toUser, usersRepo, type NewAccount } from './users.repo.ts';

export interface Registration {
  account: NewAccount;
  organisation: NewOrganisation;
  opening: Opening;
  /** A new account's first verification link (absent when an invitation proved the mailbox). */
  verification: NewOneTimeToken | null;
  events: readonly EventRows[];
}

export const registrationRepo = {
  async create(db: Executor, registration: Registration): Promise<User> {
    const organisation = organisationsRepo.creationWrites(db, registration.organisation);
    const mails = registration.events.flatMap((event) => {
      const write = mailWrite(db, event);
      return write ? [write] : [];
    });
    const writes = [
      ...eventWrites(db, registration.events),
      organisation.main,
      ...organisation.writes,
      ...(registration.verification ? [oneTimeTokensRepo.insertion(db, registration.verification)] : []),
      ...mails,
      ...sessionsRepo.openingWrites(db, registration.opening),
    ];
    const [row] = await writeTogetherReturning(db, writes, usersRepo.insertion(db, registration.account));
    if (!row) throw new Error('The account was not created');
    return toUser(row);
  },
};
