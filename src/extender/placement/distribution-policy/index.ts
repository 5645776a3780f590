/**
 * Rule: DistributionPolicy / ClusterDistributionPolicy node types.
 * host → only host nodes, leaf → only virtual nodes, mix → any, adv → advancedTerm decides
 * (nodeName, nodeSelector, or a taint the term's tolerations tolerate). The policy is
 * resolved once per pod by the shared resolver; this module only judges nodes.
 */
import { describePolicy, type ResolvedPolicy } from '../../../common/distribution-policy.js';
import { labelsContain, toleratedBy } from '../../../common/selectors.js';
import { PASS, type NodeView, type RuleVerdict } from '../types.js';

export function checkDistribution(policy: ResolvedPolicy | undefined, node: NodeView): RuleVerdict {
  if (!policy) return PASS;
  const who = describePolicy(policy);
  switch (policy.nodeType) {
    case 'mix':
      return PASS;
    case 'host':
      return node.leaf
        ? { ok: false, unresolvable: true, reason: `leaf node(s) excluded by ${who} (host nodes only)` }
        : PASS;
    case 'leaf':
      return node.leaf
        ? PASS
        : { ok: false, unresolvable: true, reason: `host node(s) excluded by ${who} (leaf nodes only)` };
    case 'adv': {
      const adv = policy.term?.advancedTerm;
      if (adv?.nodeName && adv.nodeName === node.name) return PASS;
      if (adv?.nodeSelector && labelsContain(node.labels, adv.nodeSelector)) return PASS;
      // Kosmos meant "the node has a taint these tolerations tolerate" but its helper always
      // returned false; here the tolerations select the nodes whose taints they tolerate.
      const tolerations = adv?.tolerations ?? [];
      if (tolerations.length > 0 && node.taints.some((t) => toleratedBy(tolerations, t))) return PASS;
      return { ok: false, unresolvable: true, reason: `node(s) didn't match the advanced term of ${who}` };
    }
  }
}
