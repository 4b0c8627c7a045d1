// graphql-ws (graphql-transport-ws protocol): one query, then one predictMatch
// subscription followed until the server completes it.
// Usage: node ws-client.mjs <http://host:port/graphql> [match-id]   (env API_KEY)
// Prints one JSON line: {query, matchId, statuses, last, completed} or {error}.
import { createClient } from 'graphql-ws';

import { QUERY, SUBSCRIPTION, WebSocketImpl, args, describe, print, within } from './common.mjs';

const { wsUrl, matchId: given, apiKey, timeoutMs } = args('ws-client.mjs');
const client = createClient({
  url: wsUrl,
  webSocketImpl: WebSocketImpl,
  connectionParams: apiKey ? { 'X-API-Key': apiKey } : {},
  retryAttempts: 0,
  lazy: true,
});

/** Every payload of one operation until the server completes it. */
function run(query, variables, onNext = () => {}) {
  return new Promise((resolve, reject) => {
    const payloads = [];
    client.subscribe(
      { query, variables },
      {
        next: (payload) => {
          payloads.push(payload);
          onNext(payload);
        },
        error: reject,
        complete: () => resolve(payloads),
      },
    );
  });
}

let exitCode = 0;
try {
  const [queried] = await within(timeoutMs, run(QUERY), 'query');
  if (queried.errors) throw queried.errors;
  const matchId = given ?? queried.data.matches.edges[0].node.matchId;
  const statuses = [];
  const states = await within(
    timeoutMs,
    run(SUBSCRIPTION, { m: matchId }, (payload) => {
      if (payload.data) statuses.push(payload.data.predictMatch.status);
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
} catch (error) {
  exitCode = 1;
  print({ error: describe(error) });
} finally {
  await client.dispose();
}
process.exit(exitCode);
