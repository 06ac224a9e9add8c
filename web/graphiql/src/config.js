// What the API tells this page, as JSON in <script id="graphiql-config"> (not inline script, so
// that the page needs no 'unsafe-inline'): where GraphQL and the Monaco workers are served, and
// in development the headers GraphiQL starts with.
const element = document.getElementById('graphiql-config');

/**
 * @type {{endpoint: string, subscriptionUrl: string, workers: Record<string, string>,
 *   headers: Record<string, string> | null}}
 */
export const config = JSON.parse(element ? element.textContent : '{}');
