import { createAuthenticate, type Authenticate, type LoginTokenLookup } from './auth.js'
import type { AfterEraseHook, AfterPurgeHook, BeforeEraseHook, FileStore } from './erase.js'
import { InvalidOptionError } from './errors.js'
import { createHasPermission, type HasPermission, type PermissionTable } from './permissions.js'
import { PURGE_DEFAULTS, type PurgeSettings } from './purge.js'
import { RATE_LIMIT_DEFAULTS, type RateLimitSettings, type ResolvedRateLimit } from './rate-limit.js'
import { STORE_METHODS, type ImDeleteStore } from './store.js'

export interface ImDeleteOptions {
  /** The storage adapter (required). */
  store: ImDeleteStore
  /** Resolves the caller. Default: Rocket.Chat's `X-User-Id` / `X-Auth-Token` check against `store`. */
  authenticate?: Authenticate
  /** Decides permissions. Default: Rocket.Chat's default role table with `permissions` merged over it. */
  hasPermission?: HasPermission
  /** Role-table overrides for the default `hasPermission`, e.g. `{ 'delete-d': ['admin', 'user'] }`. */
  permissions?: PermissionTable
  /** Where the routes live. Default `/api/v1`. */
  prefix?: string
  /** `false` turns rate limiting off. Default: 10 calls per 60 s per client IP and route. */
  rateLimit?: false | RateLimitSettings
  /** Called before each erase; resolving to `false` vetoes it. A function or an array of them. */
  onBeforeErase?: BeforeEraseHook | BeforeEraseHook[]
  /** Called after each erase, once the response no longer waits; failures are logged. */
  onAfterErase?: AfterEraseHook | AfterEraseHook[]
  /**
   * Called once a DM too big to erase before its answer is fully purged, with what the whole
   * erase removed; in whichever process finished the purge. Failures are logged.
   */
  onAfterPurge?: AfterPurgeHook | AfterPurgeHook[]
  /** Removes file blobs (and avatars) after the erase has committed. */
  fileStore?: FileStore
  /**
   * How big erases finish behind their answer (stores with `purge`, such as PostgresStore and
   * MemoryStore), and how many blob removals run at once. Defaults: `{ batchSize: 5000, pause: 0, blobConcurrency: 16, poll: 10000 }`,
   * the batch size the store's `purge.batchSize` when it says one (PostgresStore on PGlite: 1000).
   */
  purge?: Partial<PurgeSettings>
  /** Milliseconds a hook may run before it is given up on. Default 10000. */
  hookTimeout?: number
  /** Largest accepted body, in bytes. Default 65536. */
  bodyLimit?: number
}

const DEFAULTS = { prefix: '/api/v1', hookTimeout: 10_000, bodyLimit: 65_536 }

const isObject = (value: unknown): value is object => value !== null && typeof value === 'object'
const isFunction = (value: unknown): value is (...args: any[]) => unknown => typeof value === 'function'
const isPositiveInteger = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) > 0

function check (ok: boolean, option: string, requirement: string): void {
  if (!ok) throw new InvalidOptionError(option, requirement)
}

/** Each default's key with the given value, unless that is undefined (or null): a setting left out keeps its default. */
function withDefaults<T extends object> (given: Partial<T>, defaults: T): T {
  return Object.fromEntries(Object.entries(defaults).map(([key, value]) => [key, given[key as keyof T] ?? value])) as T
}

function hookList<T> (option: string, value: T | T[] | undefined): T[] {
  const list = value === undefined ? [] : Array.isArray(value) ? [...value] : [value]
  check(list.every(isFunction), option, 'must be a function or an array of functions')
  return list
}

function resolveRateLimit (rateLimit: unknown): ResolvedRateLimit | null {
  if (rateLimit === false) return null
  check(isObject(rateLimit), 'rateLimit', 'must be false or an object')
  const { redis, store } = rateLimit as RateLimitSettings
  const settings = { ...withDefaults(rateLimit as RateLimitSettings, RATE_LIMIT_DEFAULTS), redis, store }
  for (const key of ['max', 'timeWindow', 'timeout'] as const) check(isPositiveInteger(settings[key]), `rateLimit.${key}`, 'must be a positive integer')
  check(store === undefined || isFunction(store?.incr), 'rateLimit.store', 'must have an incr() method')
  check(redis === undefined || isFunction((redis as { defineCommand?: unknown })?.defineCommand), 'rateLimit.redis', 'must be an ioredis client')
  check(typeof settings.nameSpace === 'string', 'rateLimit.nameSpace', 'must be a string')
  check(typeof settings.skipOnError === 'boolean', 'rateLimit.skipOnError', 'must be a boolean')
  return settings
}

/** The purge's settings: the option's, else the store's batch size, else the defaults. */
function resolvePurge (purge: unknown, store: ImDeleteStore): PurgeSettings {
  check(purge === undefined || isObject(purge), 'purge', 'must be an object')
  const settings = withDefaults(purge ?? {}, { ...PURGE_DEFAULTS, batchSize: store.purge?.batchSize ?? PURGE_DEFAULTS.batchSize })
  check(isPositiveInteger(settings.batchSize), 'purge.batchSize', 'must be a positive integer (rows)')
  check(Number.isSafeInteger(settings.pause) && settings.pause >= 0, 'purge.pause', 'must be a whole number of milliseconds')
  check(isPositiveInteger(settings.blobConcurrency), 'purge.blobConcurrency', 'must be a positive integer')
  check(isPositiveInteger(settings.poll), 'purge.poll', 'must be a positive integer (milliseconds)')
  return settings
}

/**
 * The options checked at register time (naming the first bad one) and every one given its
 * default: the one configuration the plugin wires from. The caller's object is never mutated.
 */
export function resolveOptions (options: ImDeleteOptions) {
  check(isObject(options), 'options', 'must be an object')
  const { store, permissions, fileStore } = options
  check(isObject(store), 'store', 'is required: an object implementing ImDeleteStore')
  for (const method of STORE_METHODS) check(isFunction(store[method]), 'store', `must implement ${method}()`)
  check(options.authenticate === undefined || isFunction(options.authenticate), 'authenticate', 'must be a function')
  check(options.authenticate !== undefined || isFunction(store.findUserByLoginToken), 'store',
    'must implement findUserByLoginToken() for the default authenticate (or give your own authenticate)')
  check(options.hasPermission === undefined || isFunction(options.hasPermission), 'hasPermission', 'must be a function')
  check(permissions === undefined || (isObject(permissions) &&
    Object.values(permissions).every((roles) => Array.isArray(roles) && roles.every((role) => typeof role === 'string'))),
  'permissions', 'must map permission names to arrays of role names')
  const { prefix, hookTimeout, bodyLimit } = withDefaults(options, DEFAULTS)
  check(typeof prefix === 'string' && (prefix === '' || (prefix.startsWith('/') && !prefix.endsWith('/'))),
    'prefix', "must be '' or a path starting with '/' and not ending with '/'")
  const rateLimit = resolveRateLimit(options.rateLimit === undefined ? {} : options.rateLimit)
  check(fileStore === undefined || (fileStore !== null && isFunction(fileStore.remove) &&
    (fileStore.removeAvatar === undefined || isFunction(fileStore.removeAvatar))),
  'fileStore', 'must have a remove() method (and removeAvatar(), if given, must be a function)')
  check(isPositiveInteger(hookTimeout), 'hookTimeout', 'must be a positive integer (milliseconds)')
  check(isPositiveInteger(bodyLimit), 'bodyLimit', 'must be a positive integer (bytes)')
  return {
    store,
    authenticate: options.authenticate ?? createAuthenticate(store as LoginTokenLookup),
    hasPermission: options.hasPermission ?? createHasPermission(permissions),
    prefix,
    rateLimit,
    onBeforeErase: hookList('onBeforeErase', options.onBeforeErase),
    onAfterErase: hookList('onAfterErase', options.onAfterErase),
    onAfterPurge: hookList('onAfterPurge', options.onAfterPurge),
    fileStore,
    purge: resolvePurge(options.purge, store),
    hookTimeout,
    bodyLimit
  }
}
