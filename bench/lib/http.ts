// Plain HTTP calls for setting up fixtures (the load itself goes through autocannon).

export const PASSWORD = 'correct horse battery';
export const USER_AGENT = 'gatehouse-bench';
export const JSON_HEADERS = { 'content-type': 'application/json', 'user-agent': USER_AGENT };

export interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

export async function call(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...JSON_HEADERS, ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null, headers: response.headers };
}

/** The answer's body when the status is the one expected; otherwise the set-up is broken and the run stops. */
export async function expect<T>(status: number, url: string, init: Parameters<typeof call>[1] = {}): Promise<T> {
  const answer = await call(url, init);
  if (answer.status !== status) throw new Error(`${init.method ?? (init.body === undefined ? 'GET' : 'POST')} ${url}: expected ${status}, got ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as T;
}

let addresses = 0;
/**
 * A client address never used before in this run, for X-Forwarded-For (Gatehouse runs with
 * TRUST_PROXY=true): registrations are throttled per address, and the benchmark is one machine.
 * Only ever a header value: nothing is sent to these addresses.
 */
export function nextAddress(): string {
  const n = ++addresses;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** A fixed address for account number `i`, so that its sign-ins come from a device it has used before. */
export const addressOf = (i: number) => `172.16.${(i >> 8) & 255}.${i & 255}`;

/** Runs `work` over the items with at most `inFlight` at once. */
export async function inParallel<T, R>(items: readonly T[], inFlight: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, worker));
  return results;
}
