/**
 * fetch() for the tests' own requests to the schema registry: Apicurio 3.3 closes about one connection in a
 * thousand without answering, which undici reports as a TypeError ("fetch failed"); one more try on a fresh
 * connection, as the stage's and the auditor's registry clients do.
 */
export async function registryFetch(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return fetch(url, init);
  }
}
