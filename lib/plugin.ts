import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { createAuthenticate, type Authenticate, type LoginTokenLookup } from './auth.js'
import { DirectMessageEraser, type AfterEraseHook, type AfterPurgeHook, type BeforeEraseHook, type FileStore } from './erase.js'
import { InvalidOptionError } from './errors.js'
import { createHasPermission, type HasPermission, type PermissionTable } from './permissions.js'
import { RATE_LIMIT_DEFAULTS, createLimiter, type RateLimitSettings } from './rate-limit.js'
import { PURGE_DEFAULTS, type PurgeSettings } from './purge.js'
import { imDeleteRoutes } from './routes.js'
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

const isFunction = (value: unknown): value is (...args: any[]) => unknown => typeof value === 'function'
const isPositiveInteger = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) > 0
const isWholeNumber = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0

function check (ok: boolean, option: string, requirement: string): void {
  if (!ok) throw new InvalidOptionError(option, requirement)
}

function hookList<T> (option: string, value: T | T[] | undefined): T[] {
  const list = value === undefined ? [] : Array.isArray(value) ? [...value] : [value]
  check(list.every(isFunction), option, 'must be a function or an array of functions')
  return list
}

function checkRateLimit (rateLimit: unknown): RateLimitSettings | null {
  if (rateLimit === false) return null
  check(rateLimit !== null && typeof rateLimit === 'object', 'rateLimit', 'must be false or an object')
  const settings = rateLimit as RateLimitSettings
  for (const key of ['max', 'timeWindow', 'timeout'] as const) {
    check(settings[key] === undefined || isPositiveInteger(settings[key]), `rateLimit.${key}`, 'must be a positive integer')
  }
  check(settings.store === undefined || isFunction(settings.store?.incr), 'rateLimit.store', 'must have an incr() method')
  check(settings.redis === undefined || isFunction((settings.redis as { defineCommand?: unknown })?.defineCommand),
    'rateLimit.redis', 'must be an ioredis client')
  check(settings.nameSpace === undefined || typeof settings.nameSpace === 'string', 'rateLimit.nameSpace', 'must be a string')
  check(settings.skipOnError === undefined || typeof settings.skipOnError === 'boolean', 'rateLimit.skipOnError', 'must be a boolean')
  return settings
}

/** The purge's settings: the option's, else the store's batch size, else the defaults. */
function checkPurge (purge: Partial<PurgeSettings> | undefined, store: ImDeleteStore): PurgeSettings {
  check(purge === undefined || (purge !== null && typeof purge === 'object'), 'purge', 'must be an object')
  // A setting left undefined keeps its default, as every option does.
  const given: Partial<PurgeSettings> = purge ?? {}
  const settings: PurgeSettings = {
    batchSize: given.batchSize ?? store.purge?.batchSize ?? PURGE_DEFAULTS.batchSize,
    pause: given.pause ?? PURGE_DEFAULTS.pause,
    blobConcurrency: given.blobConcurrency ?? PURGE_DEFAULTS.blobConcurrency,
    poll: given.poll ?? PURGE_DEFAULTS.poll
  }
  check(isPositiveInteger(settings.batchSize), 'purge.batchSize', 'must be a positive integer (rows)')
  check(isWholeNumber(settings.pause), 'purge.pause', 'must be a whole number of milliseconds')
  check(isPositiveInteger(settings.blobConcurrency), 'purge.blobConcurrency', 'must be a positive integer')
  check(isPositiveInteger(settings.poll), 'purge.poll', 'must be a positive integer (milliseconds)')
  return settings
}

const imDeletePlugin: FastifyPluginAsync<ImDeleteOptions> = async function imDeletePlugin (fastify, options) {
  check(options !== null && typeof options === 'object', 'options', 'must be an object')
  const { store, permissions, fileStore } = options
  check(store !== null && typeof store === 'object', 'store', 'is required: an object implementing ImDeleteStore')
  for (const method of STORE_METHODS) check(isFunction(store[method]), 'store', `must implement ${method}()`)
  check(options.authenticate === undefined || isFunction(options.authenticate), 'authenticate', 'must be a function')
  check(options.authenticate !== undefined || isFunction(store.findUserByLoginToken), 'store',
    'must implement findUserByLoginToken() for the default authenticate (or give your own authenticate)')
  check(options.hasPermission === undefined || isFunction(options.hasPermission), 'hasPermission', 'must be a function')
  check(permissions === undefined || (permissions !== null && typeof permissions === 'object' &&
    Object.values(permissions).every((roles) => Array.isArray(roles) && roles.every((role) => typeof role === 'string'))),
  'permissions', 'must map permission names to arrays of role names')
  const prefix = options.prefix ?? DEFAULTS.prefix
  check(typeof prefix === 'string' && (prefix === '' || (prefix.startsWith('/') && !prefix.endsWith('/'))),
    'prefix', "must be '' or a path starting with '/' and not ending with '/'")
  const rateLimit = checkRateLimit(options.rateLimit === undefined ? {} : options.rateLimit)
  check(fileStore === undefined || (fileStore !== null && isFunction(fileStore.remove) &&
    (fileStore.removeAvatar === undefined || isFunction(fileStore.removeAvatar))),
  'fileStore', 'must have a remove() method (and removeAvatar(), if given, must be a function)')
  const hookTimeout = options.hookTimeout ?? DEFAULTS.hookTimeout
  check(isPositiveInteger(hookTimeout), 'hookTimeout', 'must be a positive integer (milliseconds)')
  const bodyLimit = options.bodyLimit ?? DEFAULTS.bodyLimit
  check(isPositiveInteger(bodyLimit), 'bodyLimit', 'must be a positive integer (bytes)')

  const hasPermission = options.hasPermission ?? createHasPermission(permissions)
  const eraser = new DirectMessageEraser({
    store,
    hasPermission,
    onBeforeErase: hookList('onBeforeErase', options.onBeforeErase),
    onAfterErase: hookList('onAfterErase', options.onAfterErase),
    onAfterPurge: hookList('onAfterPurge', options.onAfterPurge),
    fileStore,
    hookTimeout,
    purge: checkPurge(options.purge, store)
  })

  // Purges and blob removals a crash or an outage left: finished by the plugin, not the host.
  fastify.addHook('onReady', async () => { eraser.start(fastify.log) })
  fastify.addHook('onClose', async () => { await eraser.stop() })

  await fastify.register(imDeleteRoutes, {
    prefix,
    authenticate: options.authenticate ?? createAuthenticate(store as LoginTokenLookup),
    hasPermission,
    eraser,
    limiter: rateLimit === null ? null : await createLimiter(rateLimit),
    skipRateLimitOnError: rateLimit?.skipOnError ?? RATE_LIMIT_DEFAULTS.skipOnError,
    bodyLimit
  })
}

/** The plugin: `fastify.register(imDeletePlugin, { store })`. */
export default fp(imDeletePlugin, { fastify: '5.x', name: 'fastify-im-delete' })
