// graphql-sse (GraphQL over Server-Sent Events): one query, then one predictMatch
// subscription followed until the server completes it, in either mode.
// Usage: node sse-client.mjs <http://host:port/graphql/stream> <distinct|single> [match-id]
//        (env API_KEY)
// Prints one JSON line: {query, matchId, statuses, last, completed} or {error}.
import { createClient } from 'graphql-sse';

import { QUERY, SUBSCRIPTION, describe, print, within } from './common.mjs';

const url = process.argv[2];
const mode = process.argv[3];
if (!url || !['distinct', 'single'].includes(mode)) {
  console.error('usage: node sse-client.mjs <http://host:port/graphql/stream> <distinct|single> [match-id]');
  process.exit(2);
}
const given = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
const apiKey = process.env.API_KEY || undefined;
const timeoutMs = Number(process.env.TIMEOUT_MS ?? 60000);
const client = createClient({
  url,
  singleConnection: mode === 'single',
  headers: apiKey ? { 'X-API-Key': apiKey } : {},
  retryAttempts: 0,
});

/** Every result of one operation until the server completes it. */
function run(query, variables, onNext = () => {}) {
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

let exitCode = 0;
try {
  const [queried] = await within(timeoutMs, run(QUERY), 'query');
  if (queried.errors) throw queried.errors;
  const matchId = given ?? queried.data.matches.edges[0].node.matchId;
  const statuses = [];
  const states = await within(
    timeoutMs,
    run(SUBSCRIPTION, { m: matchId }, (result) => {
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
} catch (error) {
  exitCode = 1;
  const described = describe(error);
  if (error?.response) described.status = error.response.status;
  print({ error: described });
} finally {
  client.dispose();
}
process.exit(exitCode);
