// Shared by the client scripts: arguments, the subscription they follow, one JSON line out.
import WebSocket from 'ws';

// Node 20 has no global WebSocket (22 does): graphql-ws and Apollo take `ws` instead.
export const WebSocketImpl = globalThis.WebSocket ?? WebSocket;

export const QUERY = '{ matches(first: 2) { edges { node { matchId } } } }';
export const SUBSCRIPTION = `subscription($m: Int!) {
  predictMatch(matchId: $m) { id status result { probaHome } } }`;
const TERMINAL = new Set(['COMPLETE', 'FAILED', 'NOT_FOUND']);

/** `node <script> <http-url-of-/graphql> [match-id]`; env API_KEY, MATCH_ID, TIMEOUT_MS. */
export function args(script) {
  const url = process.argv[2] ?? process.env.GRAPHQL_URL;
  if (!url) {
    console.error(`usage: node ${script} <http://host:port/graphql> [match-id]`);
    process.exit(2);
  }
  const matchId = process.argv[3] ?? process.env.MATCH_ID;
  return {
    httpUrl: url,
    wsUrl: url.replace(/^http/, 'ws'),
    matchId: matchId === undefined ? undefined : Number(matchId),
    apiKey: process.env.API_KEY || undefined,
    timeoutMs: Number(process.env.TIMEOUT_MS ?? 60000),
  };
}

export function isTerminal(status) {
  return TERMINAL.has(status);
}

/** A close event, an Error or a GraphQL error list, as plain JSON. */
export function describe(error) {
  if (error && typeof error === 'object' && 'code' in error && 'reason' in error) {
    return { closeCode: error.code, reason: String(error.reason) };
  }
  if (Array.isArray(error)) {
    return { graphqlErrors: error };
  }
  if (error instanceof Error) {
    return { message: error.message, name: error.name };
  }
  return { message: String(error) };
}

export function print(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}

/** `promise`'s outcome, or a rejection after `ms`. */
export function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Every result of one operation until the server completes it. graphql-ws's and
 * graphql-sse's clients share this `subscribe(payload, sink)` interface. */
export function run(client, query, variables, onNext = () => {}) {
  return new Promise((resolve, reject) => {
    const results = [];
    client.subscribe(
      { query, variables },
      {
        next: (result) => {
          results.push(result);
          onNext(result);
        },
        error: reject,
        complete: () => resolve(results),
      },
    );
  });
}

/** The client scripts' flow: QUERY, then SUBSCRIPTION on its first match (or `given`)
 * followed until the server completes it; prints one JSON line, returns the exit code. */
export async function queryThenFollow(client, { given, timeoutMs, describeError = describe }) {
  try {
    const [queried] = await within(timeoutMs, run(client, QUERY), 'query');
    if (queried.errors) throw queried.errors;
    const matchId = given ?? queried.data.matches.edges[0].node.matchId;
    const statuses = [];
    const states = await within(
      timeoutMs,
      run(client, SUBSCRIPTION, { m: matchId }, (result) => {
        if (result.data) statuses.push(result.data.predictMatch.status);
      }),
      'subscription',
    );
    const errors = states.flatMap((state) => state.errors ?? []);
    if (errors.length) throw errors;
    print({
      query: queried.data,
      matchId,
      statuses,
      last: states.at(-1)?.data?.predictMatch ?? null,
      completed: true,
    });
    return 0;
  } catch (error) {
    print({ error: describeError(error) });
    return 1;
  }
}
