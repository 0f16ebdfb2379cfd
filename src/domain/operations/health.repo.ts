import { sql } from 'kysely';
import type { Executor } from '../../db/database.ts';

export const healthRepo = {
  /** One round trip that needs nothing but a working connection. */
  async ping(db: Executor): Promise<void> {
    await sql`select 1`.execute(db);
  },
};
