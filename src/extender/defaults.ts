/** Defaults of the extender that more than one of its files (and its CLI) need, each with why. */

/**
 * Where the extender's reservations and holds live in Redis. Every replica of one
 * installation must use the same prefix (they share the reservations); a second
 * installation on the same Redis picks another.
 */
export const EXTENDER_REDIS_PREFIX = 'kosmos:extender';
