/** The tunnel devices the agent manages, and the address family of each. */
import { VXLAN } from '../../api/constants.js';
import type { Family } from '../../common/ip.js';

export const MANAGED_DEVICES: readonly string[] = [
  VXLAN.bridge.name,
  VXLAN.local.name,
  VXLAN.bridge6.name,
  VXLAN.local6.name,
];
export const deviceFamily = (name: string): Family => (name.endsWith('-6') ? 6 : 4);
