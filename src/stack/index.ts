export { type ClusterOptions, PrivateCluster } from "./cluster.js";
export {
  EJABBERDCTL,
  ensureEjabberdInstalled,
  PrivateEjabberd,
  StackError,
} from "./ejabberd.js";
export { type EjabberdConfigOptions, ejabberdYaml } from "./ejabberd-config.js";
export { assertPortFree, freePort } from "./ports.js";
export { generateSelfSignedCert, type TlsFiles } from "./tls.js";
