// The bench's lower bound for storage work (bench/http/minimal-store.ts) is a store with the same
// guarantees only if it passes the same kit as ours: otherwise its figures would prove nothing.
import t from 'tap'
import { CASES, storeConformance, type KitTarget } from '../lib/test-kit/index.js'
import { MinimalStore } from '../bench/http/minimal-store.js'
import { dmId, httpDataset } from '../bench/http/dataset.js'
import { hashLoginToken, type User } from '../index.js'

/** MinimalStore with a fault the kit can arm after any of an erase's writes. */
class FaultyMinimalStore extends MinimalStore {
  armed = 0
  fired = false
  protected override removed (): void {
    if (this.armed > 0 && --this.armed === 0) {
      this.fired = true
      throw new Error('a fault after this write')
    }
  }
}

function target (): KitTarget<FaultyMinimalStore> {
  const store = new FaultyMinimalStore()
  let users: User[] = []
  return {
    store,
    load: async (world) => { users = world.users ?? []; store.load(world) },
    // A token revoked is gone from its user, as Rocket.Chat's logout leaves it: the user loaded again without it.
    expireToken: async (userId, token) => {
      const user = users.find((doc) => doc._id === userId) as User
      store.load({ users: [{ ...user, services: { resume: { loginTokens: user.services?.resume?.loginTokens?.filter((held) => held.hashedToken !== hashLoginToken(token)) } } }] })
    },
    ids: async (kind) => store.ids(kind),
    failNextErase: (afterWrites) => { store.armed = afterWrites; store.fired = false },
    faultFired: () => {
      const fired = store.fired
      store.armed = 0
      store.fired = false
      return fired
    },
    writeMessage: async (message) => { store.load({ messages: [message] }) }
  }
}

const report = await storeConformance(t.test.bind(t), { name: 'MinimalStore (bench)', create: async () => target() })
// It erases whole, always (the bench compares one erase in one transaction): purging is not its business.
t.same(report.notApplicable.map(({ title }) => title), [CASES.purge, CASES.purgeRace, CASES.roundTrip, CASES.imports, CASES.refused], 'every case applies but the purge and document ones')

t.test('seeded as the bench seeds it (users, then the rest), a plain MinimalStore erases a DM and its rows', async (t) => {
  const store = new MinimalStore()
  const { users, ...rest } = httpDataset(3)
  store.load({ users })
  store.load(rest)
  store.load(httpDataset(1, 0, 3))
  t.equal((await store.findUser('user1'))?._id, 'u1')
  t.equal((await store.findUser('user3'))?._id, 'u3', 'a later slice, without messages')
  t.same((await store.eraseRoom(dmId(1), { documents: false }))?.removed, { messages: 2, subscriptions: 2, uploads: 0, readReceipts: 1, discussions: 0 })
  t.same(store.ids('room'), [dmId(0), dmId(2), dmId(3)])
  t.equal(await store.eraseRoom(dmId(1)), null, 'and only once')
})
