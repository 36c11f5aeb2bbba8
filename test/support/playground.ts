// The Playground driver lives with the sandbox (scripts/sandbox/) so `npm start` can use it too.
export * from '../../scripts/sandbox/playground.js';
