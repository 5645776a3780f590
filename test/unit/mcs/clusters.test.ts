import { describe, expect, it } from 'vitest';
import { parseClusterFlag, staticSource } from '../../../src/mcs/controller/clusters.js';

describe('member clusters from --cluster flags', () => {
  it('splits NAME=KUBECONFIG at the first =', () => {
    expect(parseClusterFlag('leaf-1=/tmp/a=b/kubeconfig')).toEqual({
      name: 'leaf-1',
      kubeconfig: '/tmp/a=b/kubeconfig',
    });
  });

  it.each([
    ['leaf-1', '--cluster leaf-1: want NAME=KUBECONFIG'],
    ['=/tmp/k', '--cluster =/tmp/k: want NAME=KUBECONFIG'],
    [
      'Leaf_1=/tmp/k',
      '--cluster Leaf_1=/tmp/k: the cluster name "Leaf_1" must be an RFC 1123 label (it becomes the source-cluster label value)',
    ],
  ])('refuses %s and says why', (flag, message) => {
    expect(() => parseClusterFlag(flag)).toThrow(message);
  });

  it('refuses the same cluster twice', () => {
    expect(() => staticSource(['a=/x', 'a=/y'])).toThrow('--cluster a: given twice');
  });
});
