import createError from '@fastify/error'

/** Every error the plugin answers with; `lib/routes.ts` maps each code to Rocket.Chat's wire shape. */

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
