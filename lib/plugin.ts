import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { DirectMessageEraser } from './erase.js'
import { resolveOptions, type ImDeleteOptions } from './options.js'
import { createLimiter } from './rate-limit.js'
import { imDeleteRoutes } from './routes.js'

const imDeletePlugin: FastifyPluginAsync<ImDeleteOptions> = async function imDeletePlugin (fastify, options) {
  const { authenticate, hasPermission, prefix, rateLimit, bodyLimit, ...eraserOptions } = resolveOptions(options)
  const eraser = new DirectMessageEraser({ hasPermission, ...eraserOptions })

  // Purges and blob removals a crash or an outage left: finished by the plugin, not the host.
  fastify.addHook('onReady', async () => { eraser.start(fastify.log) })
  fastify.addHook('onClose', async () => { await eraser.stop() })

  await fastify.register(imDeleteRoutes, {
    prefix,
    authenticate,
    hasPermission,
    eraser,
    limiter: rateLimit === null ? null : await createLimiter(rateLimit),
    skipRateLimitOnError: rateLimit?.skipOnError === true,
    bodyLimit
  })
}

/** The plugin: `fastify.register(imDeletePlugin, { store })`. */
export default fp(imDeletePlugin, { fastify: '5.x', name: 'fastify-im-delete' })
