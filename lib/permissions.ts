import type { Caller, Room, Subscription } from './types.js'

export type PermissionTable = Record<string, readonly string[]>

/**
 * Rocket.Chat's default roles for the permissions this endpoint checks (its newest table:
 * `create-d` there includes `federated-external`, as `view-d-room` does).
 */
export const DEFAULT_PERMISSIONS: Readonly<PermissionTable> = Object.freeze({
  'view-room-administration': ['admin'],
  'delete-d': ['admin'],
  'view-d-room': ['admin', 'user', 'bot', 'app', 'guest', 'federated-external'],
  'view-joined-room': ['guest', 'bot', 'app', 'anonymous'],
  'create-d': ['admin', 'user', 'bot', 'app', 'federated-external'],
  'api-bypass-rate-limit': ['admin', 'bot', 'app']
})

/**
 * Decides whether a caller holds a permission. `room` is given for the one room-scoped check
 * (`delete-d`), together with the caller's subscription to it, whose roles then count too;
 * every other check (`view-joined-room`, `view-d-room`, `view-room-administration`,
 * `create-d`, `api-bypass-rate-limit`) is global and gets neither.
 */
export type HasPermission = (
  user: Caller,
  permission: string,
  room?: Room,
  subscription?: Subscription | null
) => boolean | Promise<boolean>

/** Rocket.Chat's role check over the default table with `overrides` merged over it. */
export function createHasPermission (overrides: PermissionTable = {}): HasPermission {
  const table = new Map<string, Set<string>>()
  for (const [permission, roles] of Object.entries({ ...DEFAULT_PERMISSIONS, ...overrides })) {
    table.set(permission, new Set(roles))
  }
  return function hasPermission (user, permission, _room, subscription) {
    const allowed = table.get(permission)
    if (allowed === undefined) return false
    return user.roles.some((role) => allowed.has(role)) ||
      (subscription?.roles ?? []).some((role) => allowed.has(role))
  }
}
