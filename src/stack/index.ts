export {
  EJABBERDCTL,
  ensureEjabberdInstalled,
  PrivateEjabberd,
  StackError,
} from "./ejabberd.js";
export { ejabberdYaml } from "./ejabberd-config.js";
export { assertPortFree, freePort } from "./ports.js";
