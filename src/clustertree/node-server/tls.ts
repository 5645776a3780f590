/**
 * A self-signed serving certificate for the kubelet API of the virtual nodes: the host
 * apiserver does not verify kubelet serving certificates unless told to (--kubelet-certificate-authority).
 */
import { selfSignedServingCert } from '../../common/pki.js';

export function selfSignedKubeletCert(hosts: string[]): { cert: string; key: string } {
  return selfSignedServingCert('kosmos-clustertree-kubelet', hosts);
}
