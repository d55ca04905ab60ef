export * from './verify.js';
export * from './generated/events.js';
export { API_VERSION, API_VERSIONS, type ApiVersion } from './generated/version.js';
