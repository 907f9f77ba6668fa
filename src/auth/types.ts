/**
 * Owns the result of the JWT gate: the database role a request runs as and
 * the claims it carries into `request.jwt.claims`.
 *
 * @module
 */

/** Who a request runs as. */
export interface AuthResult {
  /** The database role to switch to. */
  readonly role: string;
  /** The verified claims (empty for anonymous requests). */
  readonly claims: Readonly<Record<string, unknown>>;
  /** True when a valid token was sent (decides 401 vs 403 on 42501). */
  readonly authenticated: boolean;
}

/** Verifies the Authorization header of a request. */
export interface Authenticator {
  /**
   * @param authorization the raw `Authorization` header, or null
   * @param nowSeconds the current time in seconds since the epoch
   * @throws {PgrstError} PGRST300, PGRST301, PGRST302, PGRST303
   */
  authenticate(
    authorization: string | null,
    nowSeconds: number,
  ): Promise<AuthResult>;
  /**
   * What {@linkcode authenticate} gives a request without an Authorization
   * header, without a promise (the hot path of anonymous requests).
   * @throws {PgrstError} PGRST302 when there is no anonymous role
   */
  anonymous?(): AuthResult;
}
