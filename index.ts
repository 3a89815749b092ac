import plugin from './lib/plugin.js'

export default plugin
export { plugin as imDeletePlugin }
export type { ImDeleteOptions } from './lib/options.js'
export { hashLoginToken, createAuthenticate, type Authenticate } from './lib/auth.js'
export { DEFAULT_PERMISSIONS, createHasPermission, type HasPermission, type PermissionTable } from './lib/permissions.js'
export type { DurableBlobs, EraseOptions, ImDeleteStore, Named, PendingBlob, PurgeStep, PurgeStepOptions, PurgeSteps } from './lib/store.js'
export { MemoryStore } from './lib/stores/memory.js'
export type { RateLimitHit, RateLimitSettings, RateLimitStore } from './lib/rate-limit.js'
export type { PurgeSettings } from './lib/purge.js'
export type { AfterEraseContext, AfterEraseHook, AfterPurgeContext, AfterPurgeHook, BeforeEraseContext, BeforeEraseHook, FileStore } from './lib/erase.js'
export * as errors from './lib/errors.js'
export type * from './lib/types.js'
