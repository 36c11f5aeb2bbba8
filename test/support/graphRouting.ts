import { generate } from 'selfsigned';

/**
 * Microsoft Graph's real host for a test: `https://graph.microsoft.com` is sent to a local fake
 * (scripts/sandbox/fakeGraph/, served with a certificate for that name), so the app runs with its
 * default GRAPH_BASE_URL and the token rule that goes with it. The app calls Graph with Node's fetch
 * in the local host's worker process: workerRouting.ts connects graph.microsoft.com:443 to the fake
 * there and verifies this certificate for that name; every other host is connected as usual.
 */

export const GRAPH_HOST = 'graph.microsoft.com';

export async function graphCertificate(): Promise<{ key: string; cert: string }> {
  const pems = await generate([{ name: 'commonName', value: GRAPH_HOST }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: GRAPH_HOST }] }],
  });
  return { key: pems.private, cert: pems.cert };
}
