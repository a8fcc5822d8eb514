/** What clients and the custody API need to know about the development identity provider. */

/** The audience of every access token (`aud`), as the API expects it. */
export const CUSTODY_API_AUDIENCE = 'custody-api';
/** The resource indicator (RFC 8707, an absolute URI) that stands for the custody API; clients may omit it. */
export const CUSTODY_API_RESOURCE = 'urn:custody:api';
/** The one scope the custody API defines; authorisation itself comes from the custody claims. */
export const CUSTODY_API_SCOPE = 'custody';
/** The path of `custody-cli`'s loopback redirect; any port is accepted (RFC 8252 §7.3). */
export const CLI_REDIRECT_PATH = '/callback';
/** The dev stack's port (README command 1); tests pick a free one. */
export const DEFAULT_DEV_IDP_PORT = 9090;
/** Where `custody-console` may return after sign-in unless told otherwise: under the API's dev origin. */
export const DEFAULT_CONSOLE_REDIRECT_URIS = [
  'https://127.0.0.1:8443/console/callback',
  'http://127.0.0.1:8443/console/callback',
];
