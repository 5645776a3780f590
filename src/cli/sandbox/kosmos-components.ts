/**
 * The Kosmos components `sandbox up` runs beside the clusters (skipped with --bare).
 * Each module adds its process here as it lands: extender, webhooks, ClusterTree, ClusterLink.
 */
import type { ComponentDef } from './control-plane.js';
import type { SandboxContext } from './context.js';

export async function kosmosComponents(_ctx: SandboxContext): Promise<ComponentDef[]> {
  return [];
}
