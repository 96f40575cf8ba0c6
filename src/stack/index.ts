export {
  assertPortFree,
  EJABBERDCTL,
  ensureEjabberdInstalled,
  PrivateEjabberd,
  StackError,
} from "./ejabberd.js";
export { ejabberdYaml } from "./ejabberd-config.js";
