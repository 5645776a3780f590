import type { Binaries } from './binaries.js';
import type { ClusterFiles } from './control-plane.js';
import type { SandboxState } from './state.js';

/** What a component definition may use while `sandbox up` runs. */
export interface SandboxContext {
  dir: string;
  state: SandboxState;
  bin: Binaries;
  files: (cluster: string) => ClusterFiles;
  port: (key: string) => Promise<number>;
  progress: (msg: string) => void;
}
