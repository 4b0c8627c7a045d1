// graphql-ws (graphql-transport-ws protocol): follow liveScoreUpdates of one match until
// `count` payloads arrived (the current score, then pushed changes), then stop.
// Usage: node live-scores.mjs <http://host:port/graphql> <match-id> <count>   (env API_KEY)
// Prints one JSON line: {payloads} or {error}.
import { createClient } from 'graphql-ws';

import { WebSocketImpl, args, describe, print, within } from './common.mjs';

const LIVE = `subscription($ids: [Int!]!) {
  liveScoreUpdates(matchIds: $ids) { matchId homeScore awayScore status } }`;

const { wsUrl, matchId, apiKey, timeoutMs } = args('live-scores.mjs');
const count = Number(process.argv[4] ?? 2);
const client = createClient({
  url: wsUrl,
  webSocketImpl: WebSocketImpl,
  connectionParams: apiKey ? { 'X-API-Key': apiKey } : {},
  retryAttempts: 0,
  lazy: true,
});

let exitCode = 0;
try {
  const payloads = [];
  // An async iterator over the subscription: returning from the loop completes it.
  const subscription = client.iterate({ query: LIVE, variables: { ids: [matchId] } });
  const collect = (async () => {
    for await (const payload of subscription) {
      payloads.push(payload);
      if (payloads.length >= count) break;
    }
  })();
  await within(timeoutMs, collect, 'liveScoreUpdates');
  print({ payloads });
} catch (error) {
  exitCode = 1;
  print({ error: describe(error) });
} finally {
  await client.dispose();
}
process.exit(exitCode);
