// Apollo Client, as our frontends use it: queries over HttpLink, subscriptions over
// GraphQLWsLink (graphql-ws), split by operation type.
// Usage: node apollo.mjs <http://host:port/graphql> [match-id]   (env API_KEY)
// Prints one JSON line: {query, responseContentType, matchId, statuses, last, completed} or {error}.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';

import { QUERY, SUBSCRIPTION, WebSocketImpl, args, describe, print, within } from './common.mjs';

const { httpUrl, wsUrl, matchId: given, apiKey, timeoutMs } = args('apollo.mjs');

let responseContentType = null;
const http = new HttpLink({
  uri: httpUrl,
  headers: apiKey ? { 'X-API-Key': apiKey } : {},
  fetch: async (input, init) => {
    const response = await fetch(input, init);
    responseContentType = response.headers.get('content-type');
    return response;
  },
});
const wsClient = createClient({
  url: wsUrl,
  webSocketImpl: WebSocketImpl,
  connectionParams: apiKey ? { 'X-API-Key': apiKey } : {},
  retryAttempts: 0,
});
const link = ApolloLink.split(
  ({ query }) => {
    const definition = getMainDefinition(query);
    return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
  },
  new GraphQLWsLink(wsClient),
  http,
);
const client = new ApolloClient({ link, cache: new InMemoryCache() });

function follow(matchId) {
  return new Promise((resolve, reject) => {
    const states = [];
    client.subscribe({ query: gql(SUBSCRIPTION), variables: { m: matchId } }).subscribe({
      next: (result) => {
        if (result.error) reject(result.error);
        else states.push(result.data.predictMatch);
      },
      error: reject,
      complete: () => resolve(states),
    });
  });
}

let exitCode = 0;
try {
  const queried = await within(
    timeoutMs,
    client.query({ query: gql(QUERY), fetchPolicy: 'network-only' }),
    'query',
  );
  const matchId = given ?? queried.data.matches.edges[0].node.matchId;
  const states = await within(timeoutMs, follow(matchId), 'subscription');
  print({
    query: queried.data,
    responseContentType,
    matchId,
    statuses: states.map((state) => state.status),
    last: states.at(-1) ?? null,
    completed: true,
  });
} catch (error) {
  exitCode = 1;
  print({ error: describe(error) });
} finally {
  client.stop();
  await wsClient.dispose();
}
process.exit(exitCode);
