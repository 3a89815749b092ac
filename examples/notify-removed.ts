import type { AfterEraseHook, RemovedSubscription, Room } from '../index.js'
import type { Redis } from 'ioredis'

/** One event of Rocket.Chat's `stream-notify-user` stream, as its clients receive it. */
export interface UserStreamEvent {
  eventName: `${string}/subscriptions-changed` | `${string}/rooms-changed`
  args: ['removed', RemovedSubscription | Room]
}

/**
 * An `onAfterErase` hook that tells every member of the erased DM and of its discussions
 * what Rocket.Chat tells them: for each removed subscription, `<uid>/subscriptions-changed`
 * with `['removed', subscription]`, and `<uid>/rooms-changed` with `['removed', room]` for
 * its room. Each event is published on `<prefix><uid>`; the process holding that user's
 * websocket relays it. The caller hears nothing unless subscribed: an admin who erased
 * someone else's DM has no subscription to it, as in Rocket.Chat.
 */
export function publishRemovals (redis: Redis, prefix = 'stream-notify-user:'): AfterEraseHook {
  return async function publishRemovals ({ rooms, subscriptions }) {
    const roomsById = new Map(rooms.map((room) => [room._id, room]))
    const pipeline = redis.pipeline()
    for (const subscription of subscriptions) {
      const uid = subscription.u._id
      const events: UserStreamEvent[] = [{ eventName: `${uid}/subscriptions-changed`, args: ['removed', subscription] }]
      const room = roomsById.get(subscription.rid)
      if (room !== undefined) events.push({ eventName: `${uid}/rooms-changed`, args: ['removed', room] })
      for (const event of events) pipeline.publish(`${prefix}${uid}`, JSON.stringify(event))
    }
    // One round trip for all of them. A lost connection rejects: the plugin logs it, and the
    // answer (already sent) does not change.
    await pipeline.exec()
  }
}
