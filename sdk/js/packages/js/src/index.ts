export { Kassa, type KassaOptions } from './client.js';
export type { ClientOptions, Fetch, HttpRequest, RequestOptions } from './core/http.js';
export { PagePromise, type Page } from './core/pagination.js';
export type { CartRequestOptions, SecretStore } from './resources/carts.js';
export type { SessionRequestOptions } from './resources/checkout.js';
export * from './core/errors.js';
export { apiError } from './core/api-error.js';
export * from './generated/errors.js';
export type * from './types.js';
