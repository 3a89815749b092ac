import type { SwaggerTransformObject } from '@fastify/swagger'

/**
 * For @fastify/swagger's `transformObject`, when your own `authenticate` reads other
 * credentials than Rocket.Chat's `X-User-Id` and `X-Auth-Token`: the routes that require those
 * two headers require `scheme` instead (declare it under `openapi.components.securitySchemes`),
 * and the two header schemes leave the document. Other routes keep what they had.
 */
export function ownCredentials (scheme: string): SwaggerTransformObject {
  return (documents) => {
    if (!('openapiObject' in documents)) return documents.swaggerObject
    const document = documents.openapiObject
    for (const item of Object.values(document.paths ?? {})) {
      const operation = item?.post
      if (operation?.security?.some((requirement) => 'X-User-Id' in requirement) === true) {
        operation.security = [{ [scheme]: [] }]
      }
    }
    const schemes = document.components?.securitySchemes
    if (schemes !== undefined) {
      delete schemes['X-User-Id']
      delete schemes['X-Auth-Token']
    }
    return document
  }
}
