// Who a Bearer token names: a person's access token (checked against their live session), an API
// key (`gh_…`, from the key cache) or a machine client's access token (from the token cache). The
// policy then decides what each may do; API keys and machine clients reach organisation routes only.
import type { ClientInfo, Principal } from '../principal.ts';
import { isClientToken, type AccessTokens } from '../sessions/access-tokens.ts';
import type { SessionsService } from '../sessions/sessions.service.ts';
import type { ApiKeysService } from './api-keys.service.ts';
import type { ApplicationsService } from './applications.service.ts';
import { API_KEY_PREFIX } from './types.ts';

interface Deps {
  accessTokens: AccessTokens;
  sessions: SessionsService;
  apiKeys: ApiKeysService;
  applications: ApplicationsService;
}

export const bearerServiceFactory = ({ accessTokens, sessions, apiKeys, applications }: Deps) => ({
  async authenticate(token: string, client: ClientInfo): Promise<Principal> {
    if (token.startsWith(API_KEY_PREFIX)) return apiKeys.authenticate(token, client);
    const claims = await accessTokens.verify(token);
    if (isClientToken(claims)) return applications.authenticate(claims, client);
    return sessions.authenticateClaims(claims, client);
  },
});

export type BearerService = ReturnType<typeof bearerServiceFactory>;
