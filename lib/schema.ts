import { Type, type Static } from '@sinclair/typebox'

const ByRoomId = Type.Object({
  roomId: Type.String({ description: 'The `_id` of the DM.', example: 'hdy9972092873h8s7s0' })
}, { additionalProperties: false })

const ByUsername = Type.Object({
  username: Type.String({ description: 'The other member of the 1:1 DM (a leading `@` is ignored); your own username names your self-DM.', example: 'bob' })
}, { additionalProperties: false })

export type ImDeleteBody = Static<typeof ByRoomId> | Static<typeof ByUsername>

/** Rocket.Chat's body schema. `Type.Union` would emit `anyOf`; the wire's messages need `oneOf`. */
export const ImDeleteBodySchema = Type.Unsafe<ImDeleteBody>({ oneOf: [ByRoomId, ByUsername] })
