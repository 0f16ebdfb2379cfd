// The lint rule that keeps imports one way (eslint.config.js): each deliberately wrong import below
// is refused, and its allowed counterpart passes. `npm test` lints the whole tree with the same rule.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const eslint = new ESLint();

/** The messages of the layering rule for `code` as if it were the file at `filePath`. */
async function refusals(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.message);
}

const cases: Array<{ file: string; wrong: string; right: string; says: RegExp }> = [
  { file: 'src/db/probe.ts', wrong: "import { AppError } from '../domain/errors.ts';", right: "import type { Config } from '../config/config.ts';", says: /one way/ },
  { file: 'src/db/migrations/probe.ts', wrong: "import { buildApp } from '../../app.ts';", right: "import type { Migration } from './migration.ts';", says: /one way/ },
  { file: 'src/config/probe.ts', wrong: "import type { Db } from '../db/database.ts';", right: "import { parseDuration } from './duration.ts';", says: /one way/ },
  { file: 'src/domain/accounts/probe.ts', wrong: "import { principalOf } from '../../http/auth.ts';", right: "import type { Db } from '../../db/database.ts';", says: /one way/ },
  { file: 'src/domain/accounts/probe.ts', wrong: "import type { FastifyRequest } from 'fastify';", right: "import { randomUUID } from 'node:crypto';", says: /HTTP layer/ },
  { file: 'src/domain/accounts/probe.repo.ts', wrong: "import { accountsServiceFactory } from './accounts.service.ts';", right: "import { usersRepo } from './users.repo.ts';", says: /never calls/ },
  { file: 'src/http/routes/probe.routes.ts', wrong: "import { usersRepo } from '../../domain/accounts/users.repo.ts';", right: "import type { Services } from '../../domain/services.ts';", says: /through services/ },
  { file: 'src/http/probe.ts', wrong: "import { openDatabase } from '../db/database.ts';", right: "import { AppError } from '../domain/errors.ts';", says: /one way/ },
  { file: 'src/pages/probe.ts', wrong: "import { sendError } from '../http/errors.ts';", right: "import { escapeHtml } from '../shared/html.ts';", says: /one way/ },
  { file: 'src/app.ts', wrong: "import { readSecret } from './cli/read-secret.ts';", right: "import { installAuth } from './http/auth.ts';", says: /one way/ },
];

describe('the layering lint rule', () => {
  for (const { file, wrong, right, says } of cases) {
    it(`refuses "${wrong}" in ${file}`, async () => {
      const refused = await refusals(file, `${wrong}\nexport {};\n`);
      assert.equal(refused.length, 1, `expected one refusal, got ${JSON.stringify(refused)}`);
      assert.match(refused[0] ?? '', says);
      assert.deepEqual(await refusals(file, `${right}\nexport {};\n`), []);
    });
  }
});
