"""The operator's console: one HTML shell and its static assets, served by the API process under
`/console`. Every piece of data it shows comes from the same `/v1` API, called by the browser with the
operator's bearer token (same scopes, same tenant isolation); nothing here reads a database or Temporal."""
