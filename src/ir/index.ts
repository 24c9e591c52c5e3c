/** The ir namespace: import it as `import * as ir from '../ir/index.js'`. */
export * from './snapshot.js';
export * from './version.js';
export * from './validate.js';
