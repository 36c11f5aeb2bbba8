// Port helpers live with the sandbox (scripts/sandbox/) so `npm start` can use them too.
export * from '../../scripts/sandbox/ports.js';
