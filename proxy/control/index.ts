/**
 * The proxy's side of the control channel: following a control plane's pipeline, and the
 * API client the CLI uses too.
 */
export {
  bearerToken,
  type ControlPlaneClients,
  controlPlaneClients,
} from './control-plane-client.js';
export { connectControlPlane, type ProxyControl, readTokenFile } from './proxy-control.js';
