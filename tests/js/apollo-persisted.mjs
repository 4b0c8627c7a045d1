// Apollo Client's automatic persisted queries: createPersistedQueryLink({ sha256 }) in front
// of HttpLink, SHA-256 from node:crypto. Three clients, each with its own link and cache,
// run one query the server has never seen:
//   first  (POST): hash only -> PERSISTED_QUERY_NOT_FOUND -> the link retries with the document;
//   second (POST): hash only -> answered (registered by the first);
//   third  (GET, useGETForHashedQueries): hash only in the URL -> answered.
// Usage: node apollo-persisted.mjs <http://host:port/graphql> <tag>   (env API_KEY)
// `tag` makes the query's text (and hash) new to the server.
// Prints one JSON line: {hash, clients: [{data, requests: [{method, hashOnly, code}]}]} or {error}.
import { createHash } from 'node:crypto';

import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries';

import { describe, print, within } from './common.mjs';

const url = process.argv[2];
const tag = process.argv[3];
if (!url || !tag) {
  console.error('usage: node apollo-persisted.mjs <http://host:port/graphql> <tag>');
  process.exit(2);
}
const apiKey = process.env.API_KEY || undefined;
const timeoutMs = Number(process.env.TIMEOUT_MS ?? 60000);
const QUERY = `query Persisted${tag} { m${tag}: matches(first: 2) { edges { node { matchId } } } }`;
const sha256 = (text) => createHash('sha256').update(text).digest('hex');

let hash = null;

/** A client of its own, recording what each request sent and what came back. */
function newClient(useGETForHashedQueries) {
  const requests = [];
  const http = new HttpLink({
    uri: url,
    headers: apiKey ? { 'X-API-Key': apiKey } : {},
    fetch: async (input, init) => {
      const method = init?.method ?? 'GET';
      const sent = method === 'GET' ? paramsOf(String(input)) : JSON.parse(init.body);
      const response = await fetch(input, init);
      const body = await response.clone().json();
      hash = sent.extensions?.persistedQuery?.sha256Hash ?? hash;
      requests.push({
        method,
        status: response.status,
        hashOnly: !sent.query && Boolean(sent.extensions?.persistedQuery),
        withQuery: Boolean(sent.query),
        code: body.errors?.[0]?.extensions?.code ?? null,
      });
      return response;
    },
  });
  const link = createPersistedQueryLink({ sha256, useGETForHashedQueries }).concat(http);
  return { client: new ApolloClient({ link, cache: new InMemoryCache() }), requests };
}

function paramsOf(href) {
  const params = new URL(href).searchParams;
  const extensions = params.get('extensions');
  return { query: params.get('query'), extensions: extensions ? JSON.parse(extensions) : {} };
}

let exitCode = 0;
const clients = [];
try {
  for (const useGET of [false, false, true]) {
    const { client, requests } = newClient(useGET);
    const result = await within(
      timeoutMs,
      client.query({ query: gql(QUERY), fetchPolicy: 'network-only' }),
      'query',
    );
    clients.push({ data: result.data, error: result.error ? describe(result.error) : null, requests });
    client.stop();
  }
  print({ hash, clients });
} catch (error) {
  exitCode = 1;
  print({ error: describe(error), clients });
}
process.exit(exitCode);
