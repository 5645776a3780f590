#!/usr/bin/env node
/** Standalone entry (`node dist/clustertree/main.js --kubeconfig ...`), the same as `kosmos clustertree`. */
import { clustertreeCommand } from '../cli/commands/clustertree.js';

await clustertreeCommand().parseAsync(process.argv);
