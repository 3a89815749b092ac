import type { FastifyInstance } from 'fastify'
import { authHeaders, type Who } from './fixture.js'

export interface Answer {
  status: number
  headers: Headers
  body: string
}

/** POSTs a JSON body over real HTTP as `who`, and reads the whole answer. */
export async function post (base: string, path: string, who: Who, payload: Record<string, unknown>): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { ...authHeaders(who), 'content-type': 'application/json' },
    body: JSON.stringify(payload)
  })
  return { status: response.status, headers: response.headers, body: await response.text() }
}

/** Listens on a free port of 127.0.0.1 until the test ends; resolves to the base URL. */
export async function serve (t: { teardown: (fn: () => Promise<void>) => void }, app: FastifyInstance): Promise<string> {
  t.teardown(async () => { await app.close() })
  return await app.listen({ port: 0, host: '127.0.0.1' })
}
