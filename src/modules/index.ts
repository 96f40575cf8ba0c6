/**
 * Signed check modules (docs/modules.md): everything in core.ts (format,
 * signatures, targeting; what the agent uses) and the component's side.
 */
export * from "./core.js";
export {
  type AuditEntry,
  type ModuleService,
  type ModuleServiceDeps,
  type ModulesConfig,
  moduleService,
} from "./service.js";
