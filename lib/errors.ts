import createError, { type FastifyError } from '@fastify/error'

/**
 * Every error the plugin and its stores throw. `lib/routes.ts` maps the answered ones to
 * Rocket.Chat's wire shape by class, not by `code`: a store's or hook's error may carry any code.
 */

// The client's mistakes (4xx) are answered, never logged: `Error, false` skips capturing a stack
// trace for them, which was the costliest step of a rejected request (anyone can send those in bulk).

export const UnauthorizedError = createError('FST_IM_DELETE_UNAUTHORIZED', 'You must be logged in to do this.', 401, Error, false)

export const TooManyRequestsError = createError(
  'FST_IM_DELETE_TOO_MANY_REQUESTS',
  'Error, too many requests. Please slow down. You must wait %s seconds before trying this endpoint again.',
  429,
  Error,
  false
)

export const InvalidParamsError = createError('FST_IM_DELETE_INVALID_PARAMS', '%s', 400, Error, false)

export const InvalidChannelError = createError('FST_IM_DELETE_INVALID_CHANNEL', 'No DM found for this roomId or username', 400, Error, false)

export const NotAllowedError = createError('FST_IM_DELETE_NOT_ALLOWED', 'Not allowed', 400, Error, false)

/** The DM does not exist yet and the caller may not create one (Rocket.Chat's `createDirectMessage` refuses). */
export const CreateNotAllowedError = createError('FST_IM_DELETE_CREATE_NOT_ALLOWED', 'Not allowed', 400, Error, false)

/**
 * The user found has no username and no DM with the caller exists: Rocket.Chat hands that
 * undefined username to `createDirectMessage`, whose argument check fails with this message.
 */
export const UsernameMissingError = createError('FST_IM_DELETE_USERNAME_MISSING', 'Match error: Expected string, got undefined in field [0]', 400, Error, false)

export const EraseNotAllowedError = createError('FST_IM_DELETE_ERASE_NOT_ALLOWED', 'Not allowed', 400, Error, false)

export const FederatedRoomError = createError('FST_IM_DELETE_FEDERATED_ROOM', 'Cannot delete federated room', 400, Error, false)

export const AppPreventedError = createError('FST_IM_DELETE_APP_PREVENTED', 'A Rocket.Chat App prevented the room erasing.', 400, Error, false)

export const InvalidRoomError = createError('FST_IM_DELETE_INVALID_ROOM', 'Invalid room', 400, Error, false)

export const HookTimeoutError = createError('FST_IM_DELETE_HOOK_TIMEOUT', "The hook '%s' did not settle within %s ms", 500)

export const RateLimitTimeoutError = createError('FST_IM_DELETE_RATE_LIMIT_TIMEOUT', 'The rate-limit store did not count the call within %s ms', 500)

export const InvalidOptionError = createError('FST_IM_DELETE_INVALID_OPTION', "fastify-im-delete: option '%s' %s")

/**
 * The stores' own errors (MemoryStore, PostgresStore): a bad option, document or schema. Never
 * answered as such (a request meeting one is a 500); each keeps the name of the class it extends,
 * as the stores threw them before they had codes.
 */
function storeError<C extends string> (code: C, message: string, Base: ErrorConstructor = Error): new (...args: unknown[]) => FastifyError & { code: C } {
  const Coded = createError(code, message, 500, Base)
  return class extends Coded { override name = Base.name }
}

export const StoreOptionError = storeError('FST_IM_DELETE_STORE_OPTION', 'PostgresStore: %s', TypeError)

export const InvalidDocumentError = storeError('FST_IM_DELETE_INVALID_DOCUMENT', "%s: every document in '%s' needs a string %s", TypeError)

export const UnknownRoomError = storeError('FST_IM_DELETE_UNKNOWN_ROOM', '%s: %s names a room (%s) that is neither in the store nor in this import; nothing was imported%s')

/** The purge removes everything of that room id: the id is taken until it ends. */
export const RoomPurgingError = storeError('FST_IM_DELETE_ROOM_PURGING',
  "%s: room '%s' is being purged (its erase finishes behind its answer): its id is taken, and nothing can be written into it, until the purge has ended; nothing was imported")

export const MigrateVersionError = storeError('FST_IM_DELETE_MIGRATE_VERSION', 'PostgresStore: migrate({ to }) takes a version from 0 to %s, got %s', RangeError)

export const SchemaTooNewError = storeError('FST_IM_DELETE_SCHEMA_TOO_NEW', "PostgresStore: schema %s is at version %s, newer than this release's %s; upgrade fastify-im-delete")
