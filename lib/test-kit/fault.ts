/**
 * The fault a harness arms for the kit: call `wrote()` after each write your storage applied (a
 * DELETE on SQL, from the driver seam you wrap); the armed one throws a plain Error. `arm` and
 * `fired` are what the target's `failNextErase` and `faultFired` do.
 */
export class KitFault {
  #armed: number | null = null
  #writes = 0
  #fired = false

  /** Fails the write `afterWrites` writes from now (1: the next one), once. */
  arm (afterWrites: number): void {
    this.#armed = afterWrites
    this.#writes = 0
    this.#fired = false
  }

  /** Called after each write has been applied: throws after the armed one. */
  wrote (): void {
    if (this.#armed === null) return
    if (++this.#writes < this.#armed) return
    this.#armed = null
    this.#fired = true
    throw new Error(`fault injected after write ${this.#writes}`)
  }

  /** Whether the armed fault fired since `arm`. Disarms. */
  fired (): boolean {
    const fired = this.#fired
    this.#armed = null
    this.#fired = false
    return fired
  }
}
