// The conformance kit over MemoryStore, run the way a project without tap runs it:
//   node --import tsx --test examples/kit-memory.ts
import { test } from 'node:test'
import { MemoryStore, hashLoginToken, type EraseCollection, type UndoLog, type User } from '../index.js'
import { storeConformance, type KitTarget } from '../lib/test-kit/index.js'

// A MemoryStore whose next erase can be made to fail after its n-th step (one step per collection).
class FaultyStore extends MemoryStore {
  armed = 0
  steps = 0
  fired = false

  protected removeDocuments (collection: EraseCollection, roomIds: readonly string[], undo: UndoLog): ReturnType<MemoryStore['removeDocuments']> {
    const removed = super.removeDocuments(collection, roomIds, undo)
    if (this.armed > 0 && ++this.steps === this.armed) {
      this.armed = 0
      this.fired = true
      throw new Error('fault injected')
    }
    return removed
  }
}

const collections = { room: 'rooms', subscription: 'subscriptions', message: 'messages', upload: 'uploads', readReceipt: 'readReceipts' } as const

await storeConformance(test, {
  name: 'MemoryStore',
  supports: { documents: true },
  create: async (): Promise<KitTarget<FaultyStore>> => {
    const store = new FaultyStore()
    return {
      store,
      load: async (world) => { await store.import(world) },
      ids: async (kind) => (await store.dump())[collections[kind]].map((doc) => doc._id),
      failNextErase: (afterWrites) => { store.armed = afterWrites; store.steps = 0; store.fired = false },
      faultFired: () => {
        const fired = store.fired
        store.armed = 0
        store.fired = false
        return fired
      },
      // MemoryStore refuses a message whose room is gone, as a foreign key would.
      writeMessage: async (message) => { await store.import({ messages: [message] }) },
      // A token stops counting when it is gone from its user (Rocket.Chat's logout, or its expiry sweep).
      expireToken: async (userId, token) => {
        const user = (await store.dump()).users.find((doc) => doc._id === userId) as User
        const loginTokens = user.services?.resume?.loginTokens?.filter((held) => held.hashedToken !== hashLoginToken(token))
        await store.import({ users: [{ ...user, services: { resume: { loginTokens } } }] })
      }
    }
  }
})
