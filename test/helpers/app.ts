import Fastify, { type FastifyInstance } from 'fastify'
import imDeletePlugin, { MemoryStore, type Dataset, type ImDeleteOptions, type ImDeleteStore } from '../../index.js'
import { fixture } from './fixture.js'

export interface Built {
  app: FastifyInstance
  store: MemoryStore
}

/** A Fastify app with the plugin on a memory store holding the fixture (rate limit off unless given). */
export async function build (options: Partial<ImDeleteOptions> & { dataset?: Dataset } = {}): Promise<Built> {
  const { dataset = fixture(), ...rest } = options
  const store = new MemoryStore(dataset)
  const app = Fastify()
  await app.register(imDeletePlugin, { store, rateLimit: false, ...rest })
  await app.ready()
  return { app, store }
}

/** Wraps a store so that chosen methods misbehave. */
export function faulty (store: ImDeleteStore, faults: Partial<Record<keyof ImDeleteStore, () => unknown>>): ImDeleteStore {
  return new Proxy(store, {
    get (target, key: keyof ImDeleteStore) {
      const fault = faults[key]
      if (fault !== undefined) return async () => fault()
      const value = target[key]
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}
