export * from './alert';
export * from './common';
export * from './contact';
export * from './job';
export * from './lock';
export * from './run';
export * from './validate';
export * from './worker';
