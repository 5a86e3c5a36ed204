// The words of the domain, shared by validation, the stores, the scheduler and the dashboard. Imports nothing
// (.dependency-cruiser.cjs checks it), so every layer can depend on it.
export * from './alerts';
export * from './delivery';
export * from './headers';
export * from './policies';
export * from './roles';
export * from './runs';
export * from './schedule';
export * from './text';
