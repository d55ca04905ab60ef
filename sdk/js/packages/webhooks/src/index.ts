export * from './verify.js';
export * from './generated/events.js';
