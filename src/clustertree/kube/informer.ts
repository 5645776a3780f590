/**
 * ClusterTree's caches are the common list+watch informer (src/common/informer.ts); this
 * name stays so the sync workers' imports do not move.
 */
export { Informer, type InformerHandlers, type InformerOptions } from '../../common/informer.js';
